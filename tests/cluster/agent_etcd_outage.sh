#!/usr/bin/env bash
# A 10 s lease TTL and etcd stopped for longer than that: cross-node pod traffic keeps
# flowing on the last known routes, /readyz says etcd is unreachable, and once etcd is back
# every node holds its lease (same subnet) again and is ready.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 3
for n in n1 n2 n3; do start_shuttled "$n" --subnet-lease-ttl 10s --subnet-lease-renew-margin 5s; done
for n in n1 n2 n3; do wait_ready "$n"; done
declare -A key
for n in n1 n2 n3; do key[$n]=$(node_subnet_key "$n"); done
wait_until 10 "n1 routes n2 and n3" routes_are n1 "${key[n2]/-//}" "${key[n3]/-//}"
wait_until 10 "n2 routes n1 and n3" routes_are n2 "${key[n1]/-//}" "${key[n3]/-//}"
wait_until 10 "n3 routes n1 and n2" routes_are n3 "${key[n1]/-//}" "${key[n2]/-//}"
ip1=$(add_pod n1 e1)
ip2=$(add_pod n2 e2)
ip3=$(add_pod n3 e3)
assert_ok "e1 -> e2 before" pod_ping e1 "$ip2"

ping_log=$(kit_run_dir)/ping.log
kit_pod_spawn e1 "$ping_log" ping -i 0.2 -c 90 -W 1 "$ip3"
pinger=$KIT_LAST_PID
kit_etcd_stop
wait_until 10 "n1 not ready without etcd" eval '! kit_node_exec n1 curl -sf http://127.0.0.1:9465/readyz'
assert_contains "$(readyz n1)" "etcd: unreachable" "/readyz says why"
sleep 14 # longer than the lease TTL
assert_ok "e2 -> e1 while etcd is away" pod_ping e2 "$ip1"
assert_ok "e3 -> e2 while etcd is away" pod_ping e3 "$ip2"
kit_etcd_start
wait "$pinger" || true
received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$ping_log")
((received >= 85)) || fail "ping through the outage: $received of 90 replies ($(tail -2 "$ping_log"))"
pass "cross-node traffic keeps flowing while etcd is away longer than the lease TTL ($received/90)"

for n in n1 n2 n3; do
  wait_ready "$n" 30
  assert_eq "${key[$n]}" "$(node_subnet_key "$n")" "$n keeps its subnet"
  assert_contains "$(kit_etcdctl get --print-value-only "/coreos.com/network/subnets/${key[$n]}")" \
    "\"PublicIP\":\"$(kit_node_ip "$n")\"" "$n's lease in etcd again"
done
assert_contains "$(shuttled_log n1)" "etcd unreachable, keeping the last known state" "log says so"
assert_ok "e1 -> e3 after" pod_ping e1 "$ip3"
pass "every node holds its lease again once etcd is back"
