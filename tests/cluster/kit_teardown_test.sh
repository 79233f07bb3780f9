#!/usr/bin/env bash
# Nothing of a kit run outlives it: after a normal exit, a failure midway (exit 1), Ctrl-C
# (SIGINT to the process group) and SIGTERM, no namespace, link, holder or other process,
# mount, pin or run dir of that run is left. After SIGKILL (no trap can run) the leftovers
# are visible, and tools/cluster/sweep.sh removes them, while leaving live runs alone.
set -euo pipefail
source_dir=${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d /tmp/shuttle-kit-teardown-test.XXXXXX)
# Who owns $work: tools/test-sweep.sh removes it (and its killed runs) once this shell is gone.
echo "owner $$ $(cut -d' ' -f22 /proc/$$/stat)" >"$work/owner"
# The children keep their runs under a private root, so that no concurrently starting
# kit run sweeps the SIGKILLed child's run before this test's own sweep.sh does.
export SHUTTLE_KIT_ROOT=$work/kit-root
source "$source_dir/tools/cluster/state.sh"
source "$source_dir/tools/cluster/assert.sh"

declare -a children=()
cleanup() {
  local pid
  for pid in "${children[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  # Reaped before the sweep: a child still dying looks alive to it, and its run would then
  # be deleted with $work below but its namespaces kept.
  for pid in "${children[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash "$source_dir/tools/cluster/sweep.sh" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The child builds a cluster with everything the kit can make, reports, then ends as told.
cat >"$work/child.sh" <<'CHILD'
set -euo pipefail
source "$1/tools/cluster/kit.sh"
mode=$2 report=$3
KIT_QUIET=1
kit_cluster_up 2
echo "$(kit_run_id)" >"$report/id"
kit_etcd_start
kit_pod_add a
kit_pod_add b
kit_node_exec n1 bpftool map create "/sys/fs/bpf/kit_probe_$(kit_run_id)" type array key 4 value 4 entries 1 name kitprobe
kit_node_spawn n1 /dev/null sleep 1000
kit_pod_spawn a /dev/null sleep 1001
# A command started inside a node that the kit did not record.
kit_node_exec n2 sleep 1002 &
echo $! >"$report/straggler"
# Remember what the run made, for the parent to check afterwards: the state, and every
# process inside the run's namespaces (namespace inode numbers are reused once freed, so
# the parent checks processes by PID + start time instead).
cp "$(kit_run_dir)/state" "$report/state"
while read -r kind a b c; do
  case $kind in
  netns) echo "net:[$(stat -L -c %i "/run/netns/$a")]" ;;
  pid) [[ $c == holder:* ]] && readlink "/proc/$a/ns/mnt" ;;
  esac
done <"$report/state" >"$report/namespaces"
mapfile -t namespaces <"$report/namespaces"
for pid in $(kit__processes_in_namespaces "${namespaces[@]}"); do
  echo "$pid $(kit__starttime "$pid")"
done >"$report/processes"
touch "$report/ready"
case $mode in
exit) exit 0 ;;
fail)
  false # set -e: fails midway
  echo "not reached" ;;
wait) while :; do sleep 0.1; done ;;
esac
CHILD

# Job control: each child runs in its own process group, like a terminal's foreground job,
# and keeps SIGINT (a non-interactive shell would start it with SIGINT ignored).
set -m

# Start a child and wait until its cluster is built.
start_child() {
  local mode=$1 report=$work/$1
  mkdir -p "$report"
  bash "$work/child.sh" "$source_dir" "$mode" "$report" &
  child=$!
  children+=("$child")
  # 60 s, times the suite's wait scale (as agent_cluster_lib's waits): at load 20 a child's
  # two-node cluster took longer than 60 s.
  local limit=$((60 * ${SHUTTLE_WAIT_SCALE:-3}))
  local deadline=$((SECONDS + limit))
  until [[ -e $report/ready ]]; do
    kill -0 "$child" 2>/dev/null || break
    ((SECONDS < deadline)) || fail "child ($mode) not ready after $limit s"
    sleep 0.05
  done
}

check_snapshot() {
  assert_eq 7 "$(wc -l <"$work/$1/namespaces")" "[$1] snapshot: 5 netns + 2 holder mount namespaces"
  # holders, etcd, the two spawned sleeps and the unrecorded one
  assert_eq 6 "$(wc -l <"$work/$1/processes")" "[$1] snapshot: processes inside the run's namespaces"
}

# Every object of the run is gone.
assert_run_gone() {
  local mode=$1 report=$work/$1 id kind a b c straggler
  id=$(<"$report/id")
  assert_absent "$KIT_ROOT/$id" "[$mode] run dir"
  while read -r kind a b c; do
    case $kind in
    netns) assert_absent "/run/netns/$a" "[$mode] netns $a" ;;
    pid) ! kit__is_recorded_process "$a" "$b" || fail "[$mode] recorded process $a ($c) still running" ;;
    esac
  done <"$report/state"
  straggler=$(<"$report/straggler")
  # The shell that started it ends once its command is killed (an orphan may need a moment).
  kit__wait_gone 2 "$straggler" >/dev/null || fail "[$mode] the shell of the unrecorded command ($straggler) still runs"
  while read -r a b; do
    ! kit__is_recorded_process "$a" "$b" || fail "[$mode] process $a, once inside the run's namespaces, still running"
  done <"$report/processes"
  assert_not_contains "$(ip netns list 2>/dev/null)" "$id" "[$mode] ip netns list"
  assert_not_contains "$(ip -o link show 2>/dev/null)" "$id" "[$mode] root namespace links"
  assert_not_contains "$(cat /proc/self/mountinfo)" "$id" "[$mode] mounts in the root mount namespace"
  assert_absent "/sys/fs/bpf/kit_probe_$id" "[$mode] bpffs pin"
  # The bracket keeps grep's own command line from matching.
  assert_not_contains "$(grep -l "[${id:0:1}]${id:1}" /proc/[0-9]*/cmdline 2>/dev/null || true)" cmdline \
    "[$mode] a process mentioning the run id"
}


# Normal exit.
start_child exit
wait "$child" && status=0 || status=$?
assert_eq 0 "$status" "child (exit) status"
check_snapshot exit
assert_run_gone exit
pass "nothing left after a normal exit"

# Failure midway: set -e stops the child with status 1.
start_child fail
wait "$child" && status=0 || status=$?
assert_eq 1 "$status" "child (fail) status"
check_snapshot fail
assert_run_gone fail
pass "nothing left after a failure midway"

# Ctrl-C: SIGINT to the child's whole process group.
start_child wait
check_snapshot wait
# sweep.sh must leave a live run alone.
bash "$source_dir/tools/cluster/sweep.sh" >/dev/null
assert_exists "$KIT_ROOT/$(<"$work/wait/id")" "sweep must not touch a live run"
assert_ok "sweep must leave the live run's holders" kit__is_recorded_process \
  $(awk '$4 == "holder:n1" {print $2, $3}' "$work/wait/state")
kill -INT -- "-$child"
wait "$child" && status=0 || status=$?
assert_eq 130 "$status" "child killed by SIGINT"
assert_run_gone wait
pass "nothing left after Ctrl-C; sweep leaves live runs alone"

# SIGTERM to the child alone.
mv "$work/wait" "$work/wait-int"
start_child wait
check_snapshot wait
kill -TERM "$child"
wait "$child" && status=0 || status=$?
assert_eq 143 "$status" "child killed by SIGTERM"
assert_run_gone wait
pass "nothing left after SIGTERM"

# SIGKILL: the trap cannot run, so the run is left behind until sweep.sh cleans it.
mv "$work/wait" "$work/wait-term"
start_child wait
check_snapshot wait
id=$(<"$work/wait/id")
kill -KILL "$child"
wait "$child" || true
assert_exists "/run/netns/${KIT_NETNS_PREFIX}$id-n1" "after SIGKILL the netns is still there (the check can see leaks)"
holder=$(awk '$4 == "holder:n1" {print $2, $3}' "$work/wait/state")
assert_ok "after SIGKILL the holder still runs" kit__is_recorded_process $holder
sweep_out=$(bash "$source_dir/tools/cluster/sweep.sh")
assert_contains "$sweep_out" "sweeping dead run $id" "sweep reports the dead run"
assert_run_gone wait
pass "sweep.sh cleans a run whose owner was killed"

