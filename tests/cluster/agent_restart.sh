#!/usr/bin/env bash
# shuttled killed with SIGKILL and restarted on both ends of a TCP stream between pods on
# different nodes: the stream never stalls (the pinned datapath forwards on its own), each
# node keeps its lease and VtepMAC, and the restart reuses the pinned maps and the device.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 3
for n in n1 n2 n3; do start_shuttled "$n"; done
for n in n1 n2 n3; do wait_ready "$n"; done
declare -A key value ifindex
for n in n1 n2; do
  key[$n]=$(node_subnet_key "$n")
  value[$n]=$(kit_etcdctl get --print-value-only "/coreos.com/network/subnets/${key[$n]}")
  ifindex[$n]=$(kit_node_exec "$n" cat /sys/class/net/shuttle.1/ifindex)
done
wait_until 10 "n1 routes n2" routes_are n1 "${key[n2]/-//}" "$(node_subnet_key n3 | tr - /)"
ip1=$(add_pod n1 k1)
ip2=$(add_pod n2 k2)
assert_ok "k1 -> k2 before" pod_ping k1 "$ip2"

kit_pod_spawn k2 "$(kit_run_dir)/iperf-server.log" iperf3 -s -1 -B "$ip2"
sleep 0.5
stream_log=$(kit_run_dir)/iperf-client.json
kit_pod_spawn k1 "$stream_log" iperf3 -c "$ip2" -t 10 -i 1 -b 20M -J
client=$KIT_LAST_PID
sleep 2
for n in n1 n2; do
  kill -KILL "${SHUTTLED_PID[$n]}"
  wait "${SHUTTLED_PID[$n]}" 2>/dev/null || true
  sleep 1
  start_shuttled "$n"
done
status=0
wait "$client" || status=$?
assert_eq 0 "$status" "iperf3 client exit code (log: $(tail -c 300 "$stream_log"))"
intervals=$(jq '[.intervals[].sum.bytes] | length' "$stream_log")
empty=$(jq '[.intervals[].sum.bytes | select(. == 0)] | length' "$stream_log")
((intervals >= 9)) || fail "only $intervals one-second intervals"
assert_eq 0 "$empty" "one-second intervals without a byte while shuttled was SIGKILLed and restarted"
pass "a TCP stream between pods on two nodes survives SIGKILL + restart of both shuttleds"

for n in n1 n2; do
  wait_ready "$n"
  assert_eq "${key[$n]}" "$(node_subnet_key "$n")" "$n keeps its subnet"
  assert_eq "${value[$n]}" "$(kit_etcdctl get --print-value-only "/coreos.com/network/subnets/${key[$n]}")" \
    "$n's lease value (PublicIP, VtepMAC) unchanged"
  assert_eq "${ifindex[$n]}" "$(kit_node_exec "$n" cat /sys/class/net/shuttle.1/ifindex)" \
    "$n's device not recreated"
  assert_contains "$(shuttled_log "$n")" "maps reused" "$n reused the pinned maps"
done
assert_eq 1 "$(kit_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | grep -c "${key[n1]}")" \
  "one lease for n1"
assert_eq 3 "$(kit_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | grep -c .)" \
  "three leases in all"
assert_ok "k1 -> k2 after" pod_ping k1 "$ip2"
assert_ok "k2 -> k1 after" pod_ping k2 "$ip1"
pass "after the restart each node holds the same lease"

# Lost pins and no bpffs at all (as after a reboot of a node whose init does not mount one)
# while shuttled is down: on restart it mounts bpffs at /sys/fs/bpf and says so; its
# ensure() creates fresh maps, so it re-attaches the node's pods from the plugin's records
# (the plugin's next ADD would find the maps present and not do it).
kit_stop "${SHUTTLED_PID[n1]}"
kit_node_exec n1 umount -l /sys/fs/bpf
assert_eq sysfs "$(kit_node_exec n1 stat -f -c %T /sys/fs/bpf)" "n1's /sys/fs/bpf after the unmount"
assert_fails "no datapath after the unmount" kit_node_exec n1 "$bin/shuttlectl" status
start_shuttled n1
wait_ready n1
assert_contains "$(shuttled_log n1)" "mounted a bpf filesystem at /sys/fs/bpf (nothing was mounted there)" \
  "shuttled mounted bpffs and said so"
assert_eq bpf_fs "$(kit_node_exec n1 stat -f -c %T /sys/fs/bpf)" "n1's /sys/fs/bpf after the restart"
assert_contains "$(shuttled_log n1)" "re-attached 1 pod(s)" "the pod re-attached from its record"
status=$(kit_node_exec n1 "$bin/shuttlectl" --json status)
assert_eq "true $ip1" "$(jq -r '.attachments[0] | "\(.attached) \(.pod_ip)"' <<<"$status")" "k1's programs and entry back"
assert_ok "k1 -> k2 after lost pins" pod_ping k1 "$ip2"
assert_ok "k2 -> k1 after lost pins" pod_ping k2 "$ip1"
pass "on a node without bpffs a restarted shuttled mounts it and re-attaches the node's pods"
