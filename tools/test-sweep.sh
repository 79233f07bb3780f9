#!/usr/bin/env bash
# Removes what test runs that died without cleaning up left behind (ctest ends a test that
# hits its TIMEOUT with SIGKILL: no trap or destructor runs). ctest runs it before and after
# the suite (the fixture "sweep dead test runs", tests/CMakeLists.txt). Only what a test
# made, known by its name, and only when the run's owner process is gone:
#   cluster-kit runs         /tmp/shuttle-kit/<id>/ whose owner died (tools/cluster/sweep.sh);
#                            kit_teardown_test's private roots /tmp/shuttle-kit-teardown-test.*
#                            whose test died; netns shk-<id>-* of no run dir, with no process
#                            inside (what a kit teardown cut short left)
#   plugin shell tests       /tmp/shuttle-plugin-test.*/ (owner file: PID + start time), its
#                            bpffs mount, netns sp<pid>-<n>n and sp<pid>-<n>-<pod>
#   datapath / encap cases   netns shdp<pid><kind><n> and shen<pid>x<n>..., their /tmp/shdp<pid>*
#                            and /tmp/shen<pid>x* files (iperf3 pid files)
# Processes inside a swept netns, or whose command line names a dead datapath/encap run (a
# one-shot iperf3 server started with -D, a backgrounded client), are killed first. A run whose owner PID is alive is left alone (another suite may be running).
#   bash tools/test-sweep.sh [-n]     -n: only list what would go
set -euo pipefail
[[ $(id -u) == 0 ]] || { echo "test-sweep: run as root" >&2; exit 1; }
tools=$(cd "$(dirname "$0")" && pwd)
source "$tools/cluster/state.sh"

dry_run=
[[ ${1:-} == -n ]] && dry_run=1
swept=0 live=0

act() {
  swept=$((swept + 1))
  if [[ -n $dry_run ]]; then
    echo "would remove: $*"
    return 1
  fi
  echo "removing: $*"
}

pid_alive() { kit__starttime "$1" >/dev/null; }

# Owner file: "owner <pid> <starttime>". Alive when that PID still has that start time.
owner_file_alive() {
  local kind pid start
  read -r kind pid start <"$1" 2>/dev/null || return 1
  [[ $kind == owner ]] && kit__is_recorded_process "$pid" "$start"
}

all_netns() { ip netns list 2>/dev/null | awk '{print $1}'; }

# kill_inside <netns>...: SIGKILL every process whose network namespace is one of them.
kill_inside() {
  local -a links=() pids=()
  local name
  for name in "$@"; do
    [[ $(stat -f -c %T "/run/netns/$name" 2>/dev/null) == nsfs ]] &&
      links+=("net:[$(stat -L -c %i "/run/netns/$name")]")
  done
  ((${#links[@]})) || return 0
  mapfile -t pids < <(kit__processes_in_namespaces "${links[@]}")
  ((${#pids[@]})) || return 0
  echo "  killing processes inside: $(for p in "${pids[@]}"; do printf '%s(%s) ' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-40)"; done)"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  kit__wait_gone 5 "${pids[@]}" >/dev/null || true
}

# kill_named <ERE> <why>: SIGKILL every process whose command line matches, and its
# descendants (e.g. `sh -c "(ip netns exec shdp<pid>p0 timeout 30 iperf3 -c ...) &"`, which a
# datapath case leaves outside its process tree: its netns lives only in the dead case's mount
# namespace, so kill_inside cannot see it).
kill_named() {
  local -A children=()
  local -a found=() victims=()
  local file stat pid ppid rest cmdline
  for file in /proc/[0-9]*/stat; do
    { read -r stat <"$file"; } 2>/dev/null || continue
    pid=${stat%% *}
    rest=${stat##*) }
    ppid=${rest#* }
    ppid=${ppid%% *}
    children[$ppid]+=" $pid"
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    [[ $cmdline =~ $1 ]] && found+=("$pid")
  done
  while ((${#found[@]})); do
    pid=${found[0]}
    found=("${found[@]:1}")
    victims+=("$pid")
    # shellcheck disable=SC2206
    found+=(${children[$pid]:-})
  done
  ((${#victims[@]})) || return 0
  echo "  killing $2: $(for p in "${victims[@]}"; do printf '%s(%s) ' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-40)"; done)"
  kill -KILL "${victims[@]}" 2>/dev/null || true
  kit__wait_gone 5 "${victims[@]}" >/dev/null || true
}

delete_netns() {
  local name
  kill_inside "$@"
  for name in "$@"; do ip netns del "$name" 2>/dev/null || rm -f "/run/netns/$name"; done
}

# --- cluster kit ---------------------------------------------------------------------------
kit_out=$(bash "$tools/cluster/sweep.sh" ${dry_run:+-n})
grep -v '^sweep: ' <<<"$kit_out" || true
[[ $kit_out =~ sweep:\ ([0-9]+)\ dead\ run.*,\ ([0-9]+)\ live ]] &&
  swept=$((swept + BASH_REMATCH[1])) live=$((live + BASH_REMATCH[2]))
for work in /tmp/shuttle-kit-teardown-test.*; do
  [[ -d $work ]] || continue
  # No owner file: made a moment ago, or by a version of the test that wrote none (it may
  # still run): left alone.
  if [[ ! -e $work/owner ]] || owner_file_alive "$work/owner"; then
    live=$((live + 1))
    continue
  fi
  act "dead kit_teardown_test run $work" || continue
  SHUTTLE_KIT_ROOT=$work/kit-root bash "$tools/cluster/sweep.sh" >/dev/null || true
  rm -rf --one-file-system "$work"
done
# Netns of a kit run whose run dir is gone: a run makes its dir before any netns and deletes
# its netns before its dir, so such a netns belongs to no live run. One with a process
# inside is left alone (it may be a run under another SHUTTLE_KIT_ROOT).
declare -A orphan_ids=()
for name in $(all_netns); do
  [[ $name =~ ^${KIT_NETNS_PREFIX}([0-9a-f]{6})- ]] || continue
  id=${BASH_REMATCH[1]}
  [[ -d $KIT_ROOT/$id ]] && continue
  compgen -G "/tmp/shuttle-kit-teardown-test.*/kit-root/$id" >/dev/null && continue
  orphan_ids[$id]+=" $name"
done
for id in "${!orphan_ids[@]}"; do
  # shellcheck disable=SC2206
  names=(${orphan_ids[$id]})
  links=()
  for name in "${names[@]}"; do
    [[ $(stat -f -c %T "/run/netns/$name" 2>/dev/null) == nsfs ]] &&
      links+=("net:[$(stat -L -c %i "/run/netns/$name")]")
  done
  if [[ -n $(kit__processes_in_namespaces "${links[@]}") ]]; then
    echo "left alone: netns ${names[*]} (no run dir, but processes inside)"
    live=$((live + 1))
    continue
  fi
  act "netns of kit run $id without a run dir: ${names[*]}" || continue
  delete_netns "${names[@]}"
done

# --- plugin shell tests (tests/integration/plugin_lib.bash) -------------------------------------
for work in /tmp/shuttle-plugin-test.*; do
  [[ -d $work ]] || continue
  if [[ ! -e $work/owner ]] || owner_file_alive "$work/owner"; then
    live=$((live + 1))
    continue
  fi
  act "dead plugin test run $work" || continue
  if [[ -r $work/run ]]; then
    run=$(<"$work/run")
    mapfile -t names < <(all_netns | grep -E "^${run}(n|-.+)$" || true)
    ((${#names[@]} == 0)) || delete_netns "${names[@]}"
  fi
  umount -l "$work/bpffs" 2>/dev/null || true
  rm -rf --one-file-system "$work"
done

# Processes of a dead datapath or encap case still running under their run's name.
declare -A dead_owners=()
for name in $(all_netns) $(cd /tmp && ls -d shdp[0-9]* shen[0-9]* 2>/dev/null); do
  [[ $name =~ ^(shdp|shen)([0-9]+)[a-z] ]] || continue
  pid_alive "${BASH_REMATCH[2]}" || dead_owners[${BASH_REMATCH[1]}${BASH_REMATCH[2]}]=1
done
for owner in "${!dead_owners[@]}"; do
  if [[ -n $dry_run ]]; then
    echo "would kill processes named $owner<...> with their children"
  else
    kill_named "(^|[ /])${owner}[a-z]" "processes of dead run $owner"
  fi
done

# --- netns named after their owner's PID: plugin tests, datapath_test, encap_test -------------
for name in $(all_netns); do
  [[ $name =~ ^sp([0-9]+)-[0-9]+(n|-.+)$ || $name =~ ^shdp([0-9]+)[a-z]+[0-9]+$ ||
    $name =~ ^shen([0-9]+)x[0-9]+ ]] || continue
  pid=${BASH_REMATCH[1]}
  if pid_alive "$pid"; then
    live=$((live + 1))
    continue
  fi
  act "netns $name (owner PID $pid is gone)" || continue
  delete_netns "$name"
done
# datapath_test's and encap_test's files; a .pid file names a one-shot iperf3 server
# (-D -I <file>, a daemon outside the test's process tree): killed when that process's command
# line still names the file.
for file in /tmp/shdp[0-9]* /tmp/shen[0-9]*; do
  [[ -f $file && $(basename "$file") =~ ^(shdp|shen)([0-9]+)[a-z] ]] || continue
  pid_alive "${BASH_REMATCH[2]}" && continue
  act "file $file (owner PID ${BASH_REMATCH[2]} is gone)" || continue
  if [[ $file == *.pid ]]; then
    daemon=$(tr -dc 0-9 <"$file")
    if [[ -n $daemon && $(tr '\0' ' ' <"/proc/$daemon/cmdline" 2>/dev/null) == *" $file"* ]]; then
      echo "  killing $daemon ($(tr '\0' ' ' <"/proc/$daemon/cmdline" | cut -c1-60))"
      kill -KILL "$daemon" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
done

verb=removed
[[ -z $dry_run ]] || verb=found
echo "test-sweep: $swept leftover(s) of dead runs $verb; $live item(s) of live runs left alone"
