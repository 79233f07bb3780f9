#!/usr/bin/env bash
# Fault matrix: a node's pins removed, then its bpffs unmounted, under running pods.
#  (a) rm -rf of the pin root while shuttled runs: pods attached by tc keep forwarding on
#      the old maps (same node: no gap); TCX links (the overlay device's, a shaped pod's) die
#      with their last pin, so cross-node traffic stops (decapsulated packets reach the pod
#      through the stack, to_pod takes the peer for a NATed one and from_pod hands the
#      replies to the stack, where the collect_md device without to_overlay drops them)
#      until shuttled's periodic check (5 s) loads again, re-attaches the recorded pods and
#      the overlay and rewrites the routes.
#  (b) bpffs unmounted while shuttled is down: the next ADD mounts it again, pins fresh maps
#      and re-attaches every recorded pod; shuttled, started again, puts the overlay back.
# Checked after each: every pod attached, endpoints = the store's reservations = the pods,
# routes map = the other node's lease; the longest ping gap of each stream is printed.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2
for n in n1 n2; do start_shuttled "$n"; done
for n in n1 n2; do wait_ready "$n"; done
key2=$(node_subnet_key n2)
wait_until 10 "n1 routes n2" routes_are n1 "${key2/-//}"
ip_t1=$(add_pod n1 t1)
ip_u1=$(add_pod n1 u1)
ip_t2=$(add_pod n2 t2)
# A shaped pod (egress rate asked for) is attached by TCX.
kit_pod_add s1
shaped=$(jq -c '.runtimeConfig = {bandwidth: {egressRate: 1000000000, egressBurst: 100000000}}' "$POD_CONF")
out=$(kit_cni n1 ADD ctr-s1 s1 eth0 - <<<"$shaped") || fail "ADD s1: $out"

status_n1() { kit_node_exec n1 "$bin/shuttlectl" --json status; }
modes() { status_n1 | jq -r '[.attachments[] | .mode] | sort | join(" ")'; }
all_attached() {
  local s
  s=$(status_n1) || return 1
  [[ $(jq '[.attachments[] | select(.attached)] | length' <<<"$s") == "$1" ]] &&
    [[ $(jq -r '.overlay.attached' <<<"$s") == true ]]
}
endpoint_ips() { kit_node_exec n1 "$bin/shuttlectl" --json endpoints | jq -r '.[].ip' | sort; }
reserved_ips() { kit_node_exec n1 sh -c 'ls /var/lib/cni/networks/cbr0 | grep "^[0-9]" | sort'; }
node_consistent() {
  local pods=$1
  all_attached "$pods" || return 1
  [[ $(endpoint_ips | wc -l) == "$pods" && "$(endpoint_ips)" == "$(reserved_ips)" ]] || return 1
  map_is n1 "${key2/-//}"
}
assert_eq "tc tc tcx" "$(modes)" "t1, u1 by tc, the shaped s1 by TCX"
assert_ok "n1 consistent before" node_consistent 3
assert_ok "n1 host -> t2" kit_node_exec n1 ping -c 1 -W 1 "$ip_t2"

# --- (a) pins removed under a running shuttled ------------------------------------------
logs=$(kit_run_dir)
start_pinger t1 "$ip_u1" "$logs/a-local.log"; p_local=$PINGER_PID
start_pinger t1 "$ip_t2" "$logs/a-remote.log"; p_remote=$PINGER_PID
start_pinger node:n1 "$ip_t2" "$logs/a-host.log"; p_host=$PINGER_PID
sleep 1
started=$(date +%s%N)
# shuttled may pin again while rm walks the tree (its check runs every 5 s): then rm ends
# with "Directory not empty", which is the race this test is about, not a failure of it.
kit_node_exec n1 rm -rf /sys/fs/bpf/shuttle || echo "rm raced shuttled's rebuild: $(kit_node_exec n1 ls -R /sys/fs/bpf/shuttle 2>&1 | head -n 5 | tr '\n' ' ')"
WAIT_DEBUG='shuttled_log n1 | tail -8; status_n1'
wait_until 30 "shuttled rebuilds n1's datapath" node_consistent 3
rebuilt_ms=$((($(date +%s%N) - started) / 1000000))
sleep 1
for p in $p_local $p_remote $p_host; do stop_pinger "$p"; done
gap_local=$(longest_gap_ms "$logs/a-local.log")
gap_remote=$(longest_gap_ms "$logs/a-remote.log")
gap_host=$(longest_gap_ms "$logs/a-host.log")
echo "(a) pins removed: datapath rebuilt after ${rebuilt_ms} ms; longest gap t1 -> u1 (same node, tc) ${gap_local} ms, t1 -> t2 ${gap_remote} ms, n1 host -> t2 ${gap_host} ms (overlay TCX)"
assert_contains "$(shuttled_log n1)" "pins lost" "shuttled says what happened"
((gap_local <= 300)) || fail "same-node traffic of tc-attached pods lost ${gap_local} ms"
((gap_remote < 20000)) || fail "cross-node pod traffic was out ${gap_remote} ms"
((gap_host < 20000)) || fail "the host's overlay traffic was out ${gap_host} ms"
assert_eq "tc tc tcx" "$(modes)" "modes after the rebuild"
assert_ok "s1 -> t2 after" pod_ping s1 "$ip_t2"
assert_ok "t2 -> t1 after" pod_ping t2 "$ip_t1"
pass "pins removed: tc pods kept forwarding, shuttled rebuilt everything in ${rebuilt_ms} ms"

# --- (b) bpffs unmounted while shuttled is down; the next ADD rebuilds --------------------
kill -KILL "${SHUTTLED_PID[n1]}"
wait "${SHUTTLED_PID[n1]}" 2>/dev/null || true
kit_node_exec n1 umount -l /sys/fs/bpf
assert_eq sysfs "$(kit_node_exec n1 stat -f -c %T /sys/fs/bpf)" "nothing mounted at /sys/fs/bpf"
assert_ok "t1 -> t2 on the unpinned tc programs" pod_ping t1 "$ip_t2"
ip_t3=$(add_pod n1 t3)
assert_eq bpf_fs "$(kit_node_exec n1 stat -f -c %T /sys/fs/bpf)" "the ADD mounted bpffs again"
assert_eq 4 "$(endpoint_ips | wc -l)" "endpoints rebuilt from the records"
assert_eq "$(reserved_ips)" "$(endpoint_ips)" "endpoints = reservations"
assert_ok "t3 -> t1" pod_ping t3 "$ip_t1"
assert_ok "t1 -> t3" pod_ping t1 "$ip_t3"
started=$(date +%s%N)
start_shuttled n1
wait_ready n1
wait_until 30 "n1 consistent with shuttled back" node_consistent 4
ms=$((($(date +%s%N) - started) / 1000000))
assert_ok "t3 -> t2 (overlay)" pod_ping t3 "$ip_t2"
assert_ok "n1 host -> t2" kit_node_exec n1 ping -c 1 -W 1 "$ip_t2"
pass "bpffs unmounted: the next ADD mounted it and rebuilt the endpoints; shuttled back in ${ms} ms"
