#!/usr/bin/env bash
# Cleans up cluster-kit runs whose owner shell died without tearing down (e.g. SIGKILL):
# for each run dir under $SHUTTLE_KIT_ROOT (default /tmp/shuttle-kit) whose recorded
# owner PID is gone, stops the processes its state records (only when PID + start time
# still match, holders only when they still carry the run's tag, plus any process still
# inside the run's namespaces), deletes its namespaces and removes the run dir.
# Runs whose owner is alive are left alone. Usage: sweep.sh [-n]  (-n: only list)
set -euo pipefail
[[ $(id -u) == 0 ]] || { echo "sweep.sh: run as root" >&2; exit 1; }
source "$(dirname "$0")/state.sh"

dry_run=
[[ ${1:-} == -n ]] && dry_run=1
swept=0 live=0
for dir in "$KIT_ROOT"/*; do
  [[ -d $dir ]] && kit__valid_run_dir "$dir" || continue
  # A run dir without its owner line is either being created right now or broken: leave
  # it for a minute.
  [[ -s $dir/state || $(($(date +%s) - $(stat -c %Y "$dir"))) -gt 60 ]] || continue
  if kit__owner_alive "$dir"; then
    live=$((live + 1))
    continue
  fi
  if [[ -n $dry_run ]]; then
    echo "dead run $(basename "$dir"):"
    sed 's/^/  /' "$dir/state" 2>/dev/null || true
  else
    echo "sweeping dead run $(basename "$dir")"
    kit__teardown_run "$dir"
  fi
  swept=$((swept + 1))
done
echo "sweep: $swept dead run(s)${dry_run:+ found}, $live live run(s) left alone"
