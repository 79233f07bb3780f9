#!/usr/bin/env bash
# Fault matrix: a second shuttled started by mistake on a node whose shuttled runs (its own
# health port, so the port cannot be what stops it). It must refuse before touching
# anything (exit 1, naming the running agent's PID and the lock), leave the lease, subnet.env,
# pins, device, conflist and routes as they were, and the first agent ready. Once the first
# dies (SIGKILL: no clean exit), a new agent takes over at once.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2
for n in n1 n2; do start_shuttled "$n"; done
for n in n1 n2; do wait_ready "$n"; done
first=${SHUTTLED_PID[n1]}
ip1=$(add_pod n1 a1)
ip2=$(add_pod n2 a2)
wait_until 10 "n1 routes n2" routes_are n1 "$(node_subnet_key n2 | tr - /)"

# Everything the second agent could change, with inode numbers and mtimes.
node_state() {
  kit_etcdctl get --prefix -w json /coreos.com/network/subnets/ | jq -c '[.kvs[] | {key, value, lease, mod_revision}]'
  kit_node_exec n1 sh -c 'stat -c "%n %i %Y.%y" /run/flannel/subnet.env /etc/cni/net.d/10-shuttle.conflist; cat /run/flannel/subnet.env
    find /sys/fs/bpf/shuttle -printf "%i %p\n" | sort -k2
    cat /sys/class/net/shuttle.1/ifindex /sys/class/net/shuttle.1/address'
  kit_node_exec n1 "$bin/shuttlectl" --json routes
  kit_node_exec n1 "$bin/shuttlectl" --json endpoints
  kit_node_exec n1 "$bin/shuttlectl" --json config
}
before=$(node_state)

log=$(kit_run_dir)/second.log
kit_node_spawn n1 "$log" "$bin/shuttled" --etcd-endpoints "$(kit_etcd_endpoint)" --iface eth0 \
  --healthz-addr 127.0.0.1:9466
second=$KIT_LAST_PID
wait_until_quiet 10 eval "! kill -0 $second" || { kit_stop "$second"; fail "the second shuttled kept running: $(cat "$log")"; }
status=0
wait "$second" || status=$?
assert_eq 1 "$status" "the second shuttled's exit status (log: $(cat "$log"))"
assert_contains "$(cat "$log")" "another shuttled (pid $first) runs on this node" "it says why"
assert_contains "$(cat "$log")" "/run/flannel/subnet.env.lock" "it names the lock"
assert_eq "$before" "$(node_state)" "node state after the refused start"
assert_ok "first agent still ready" kit_node_exec n1 curl -sf http://127.0.0.1:9465/readyz
assert_ok "a1 -> a2" pod_ping a1 "$ip2"
pass "a second shuttled refuses, says why, and changes nothing"

kill -KILL "$first"
wait "$first" 2>/dev/null || true
started=$(date +%s%N)
start_shuttled n1
wait_ready n1
ms=$((($(date +%s%N) - started) / 1000000))
assert_eq "${SHUTTLED_PID[n1]}" "$(kit_node_exec n1 cat /run/flannel/subnet.env.lock)" "the lock names the new agent"
assert_contains "$(shuttled_log n1)" "maps reused" "the new agent reused the pins"
assert_ok "a2 -> a1" pod_ping a2 "$ip1"
pass "after the first agent's SIGKILL a new one starts at once (ready after ${ms} ms)"
