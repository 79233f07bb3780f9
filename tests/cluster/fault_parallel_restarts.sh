#!/usr/bin/env bash
# Fault matrix: 64 parallel ADDs, then 32 DELs racing 32 ADDs, then 64 parallel DELs on one
# node while its shuttled is SIGKILLed and restarted in a loop. Every call must succeed;
# after each phase the node holds exactly the live pods (distinct addresses; store, records,
# endpoints, host veths all equal to them; every pod attached), and at the end nothing.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2
for n in n1 n2; do start_shuttled "$n"; done
for n in n1 n2; do wait_ready "$n"; done
ip_far=$(add_pod n2 far)
work=$(kit_run_dir)/parallel
mkdir -p "$work"
for i in $(seq 1 96); do kit_pod_add "q$i"; done

# shuttled SIGKILLed and started again every ~0.7 s until $work/restarting goes away.
touch "$work/restarting"
(
  pid=${SHUTTLED_PID[n1]}
  restarts=0
  while [[ -e $work/restarting ]]; do
    sleep 0.7
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    start_shuttled n1
    pid=${SHUTTLED_PID[n1]}
    restarts=$((restarts + 1))
    echo "$pid $restarts" >"$work/agent"
  done
) &
restarter=$!

# run_parallel <ADD|DEL> <pod>...: one background call each; every one must succeed.
run_parallel() {
  local command=$1 p failed=0
  shift
  local -a pids=()
  for p in "$@"; do
    kit_cni n1 "$command" "ctr-$p" "$p" eth0 "$POD_CONF" >"$work/$command-$p.out" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  ((failed == 0)) || fail "$failed of $# ${command}s failed: $(grep -l . "$work/$command-"*.out | head -3 | xargs cat)"
}

status_n1() { kit_node_exec n1 "$bin/shuttlectl" --json status; }
# node_holds <pod>...: exactly these pods, each once, attached.
node_holds() {
  local want reserved ids endpoints
  want=
  (($# == 0)) || want=$(printf 'ctr-%s\n' "$@" | sort)
  reserved=$(kit_node_exec n1 sh -c 'cd /var/lib/cni/networks/cbr0 && for f in [0-9]*; do [ -e "$f" ] && echo "$f $(head -1 "$f" | tr -d "\r")"; done; true')
  ids=$(cut -d' ' -f2 <<<"$reserved" | sed '/^$/d' | sort)
  [[ $ids == "$want" ]] || fail "reservations held by: $(xargs <<<"$ids") (want $#)"
  endpoints=$(kit_node_exec n1 "$bin/shuttlectl" --json endpoints | jq -r '.[].ip' | sort)
  [[ $endpoints == "$(cut -d' ' -f1 <<<"$reserved" | sed '/^$/d' | sort)" ]] || fail "endpoints differ from reservations"
  [[ $(kit_node_exec n1 sh -c 'ls /var/lib/cni/shuttle/cbr0 | grep -c "\.json$"' || true) == "$#" ]] || fail "records differ"
  [[ $(kit_node_exec n1 ip -o link show 2>/dev/null | grep -c ' sh[0-9a-f]\{13\}' || true) == "$#" ]] || fail "host veths differ"
  [[ $(status_n1 | jq '[.attachments[] | select(.attached)] | length') == "$#" ]] || fail "attached: $(status_n1 | jq -c '[.attachments[] | select(.attached | not)]')"
}

started=$(date +%s%N)
run_parallel ADD $(seq -f 'q%g' 1 64)
add_ms=$((($(date +%s%N) - started) / 1000000))
node_holds $(seq -f 'q%g' 1 64)
pass "64 parallel ADDs during restarts: 64 distinct addresses, all attached (${add_ms} ms)"

started=$(date +%s%N)
run_parallel DEL $(seq -f 'q%g' 1 32) &
deleter=$!
run_parallel ADD $(seq -f 'q%g' 65 96)
wait "$deleter" || fail "the racing DELs"
mix_ms=$((($(date +%s%N) - started) / 1000000))
node_holds $(seq -f 'q%g' 33 96)
pass "32 DELs racing 32 ADDs during restarts: the node holds exactly the 64 live pods (${mix_ms} ms)"

started=$(date +%s%N)
run_parallel DEL $(seq -f 'q%g' 33 96)
del_ms=$((($(date +%s%N) - started) / 1000000))
rm "$work/restarting"
loop=0
wait "$restarter" || loop=$?
read -r pid restarts <"$work/agent" || fail "the restart loop never restarted shuttled"
((loop == 0)) || fail "the restart loop ended with status $loop after $restarts restarts"
SHUTTLED_PID[n1]=$pid
node_holds
assert_eq 0 "$(kit_node_exec n1 ip -4 route show | grep -c 'dev sh[0-9a-f]\{13\}' || true)" "host routes left"
pass "64 parallel DELs during restarts leave nothing (${del_ms} ms; shuttled restarted $restarts times)"

wait_ready n1
ip_a=$(add_pod n1 after)
assert_ok "a new pod talks across nodes" pod_ping after "$ip_far"
assert_ok "and back" pod_ping far "$ip_a"
assert_eq true "$(status_n1 | jq -r .overlay.attached)" "overlay attached"
pass "after the restart loop the node works"
