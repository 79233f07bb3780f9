#!/usr/bin/env bash
# shuttled on 3 kit nodes with a real etcd in the underlay: distinct leases in flannel's
# format, readiness, the conflist, routes between nodes, pods on different nodes ping and
# move TCP, a stopped node's deleted lease leaves the others' routes, --ip-masq with repair.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 3
start_shuttled n1 --ip-masq
start_shuttled n2
start_shuttled n3
for n in n1 n2 n3; do wait_ready "$n"; done
pass "three nodes ready"

declare -A key
for n in n1 n2 n3; do
  key[$n]=$(node_subnet_key "$n")
  [[ ${key[$n]} =~ ^10\.244\.[0-9]+\.0-24$ ]] || fail "$n: bad subnet.env: ${key[$n]}"
  value=$(kit_etcdctl get --print-value-only "/coreos.com/network/subnets/${key[$n]}")
  mac=$(kit_node_exec "$n" cat /sys/class/net/shuttle.1/address)
  assert_eq "{\"PublicIP\":\"$(kit_node_ip "$n")\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"$mac\"}}" \
    "$value" "$n's lease in flannel's format, VtepMAC = the device's MAC"
done
assert_eq 3 "$(printf '%s\n' "${key[@]}" | sort -u | wc -l)" "three distinct leases"
assert_eq FLANNEL_IPMASQ=true "$(kit_node_exec n1 grep IPMASQ /run/flannel/subnet.env)" "n1 masquerades"
assert_eq FLANNEL_IPMASQ=false "$(kit_node_exec n2 grep IPMASQ /run/flannel/subnet.env)" "n2 does not"
assert_eq FLANNEL_MTU=1450 "$(kit_node_exec n2 grep MTU /run/flannel/subnet.env)" "MTU 1500 - 50"
dev=$(kit_node_exec n2 ip -d -o link show shuttle.1)
assert_contains "$dev" "external" "collect_md device"
assert_contains "$dev" "dstport 8472" "flannel's port"
assert_contains "$dev" "mtu 1450" "device MTU"
assert_contains "$(kit_node_exec n2 ip -o -4 addr show dev shuttle.1)" "${key[n2]%-24}/32" "<subnet>.0/32"
assert_contains "$(readyz n2)" "datapath: shuttle.1" "/readyz names the device"
conflist=$(kit_node_exec n2 cat /etc/cni/net.d/10-shuttle.conflist)
assert_eq cbr0 "$(jq -r .name <<<"$conflist")" "conflist written with flannel's network name"
assert_eq /run/flannel/subnet.env "$(jq -r '.plugins[0].subnetFile' <<<"$conflist")" "conflist reads subnet.env"
pass "leases, subnet.env, device and conflist"

wait_until 10 "n1 routes n2 and n3" routes_are n1 "${key[n2]/-//}" "${key[n3]/-//}"
wait_until 10 "n2 routes n1 and n3" routes_are n2 "${key[n1]/-//}" "${key[n3]/-//}"
wait_until 10 "n3 routes n1 and n2" routes_are n3 "${key[n1]/-//}" "${key[n2]/-//}"
pass "each routes map holds exactly the other nodes' leases"

ip1=$(add_pod n1 a1)
ip2=$(add_pod n2 a2)
ip3=$(add_pod n3 a3)
for pair in "a1 $ip2" "a2 $ip3" "a3 $ip1" "a2 $ip1"; do
  set -- $pair
  assert_ok "ping $1 -> $2" pod_ping "$1" "$2" 3
done
assert_ok "node n1 -> pod on n2" kit_node_exec n1 ping -c 2 -i 0.2 -W 2 "$ip2"
kit_pod_spawn a2 "$(kit_run_dir)/iperf-server.log" iperf3 -s -1 -B "$ip2"
sleep 0.5
assert_ok "TCP a1 -> a2 (iperf3)" kit_pod_exec a1 iperf3 -c "$ip2" -t 2 -b 50M
pass "pods on different nodes ping and move TCP"

# Masquerade owned by shuttled on n1, repaired when removed behind its back.
assert_ok "n1 has table ip shuttle" kit_node_exec n1 nft list table ip shuttle
assert_fails "n2 has none (no --ip-masq, the conflist says ipMasq false)" kit_node_exec n2 nft list table ip shuttle
kit_node_exec n1 nft delete table ip shuttle
wait_until 12 "n1 repairs its masquerade table" kit_node_exec n1 nft list table ip shuttle
# A deleted device comes back too (new ifindex, programs re-attached).
kit_node_exec n3 ip link del shuttle.1
wait_until 12 "n3 recreates shuttle.1" kit_node_exec n3 ip link show shuttle.1
wait_until 10 "n1 -> n3 pod again" pod_ping a1 "$ip3"
# Overlay programs detached behind its back (TCX: the link pins removed; tc: the filters).
kit_node_exec n2 sh -c 'rm -f /sys/fs/bpf/shuttle/v1/links/overlay-*/shuttle-1; tc filter del dev shuttle.1 ingress 2>/dev/null; tc filter del dev shuttle.1 egress 2>/dev/null; true'
wait_until 12 "n2 re-attaches its overlay programs" eval \
  "kit_node_exec n2 '$bin/shuttlectl' --json status | jq -e '.overlay.attached'"
wait_until 10 "n1 -> n2 pod again" pod_ping a1 "$ip2"
assert_contains "$(shuttled_log n2)" "datapath drift: overlay programs not attached" "n2 logged the repair"
pass "drift repaired: masquerade table, deleted VXLAN device, detached overlay programs"

# n3's shuttled stopped and its lease deleted: the others drop its route.
kit_stop "${SHUTTLED_PID[n3]}"
assert_contains "$(shuttled_log n3)" "the datapath keeps forwarding" "clean SIGTERM exit"
assert_ok "n3's pod still reachable while its shuttled is stopped" pod_ping a1 "$ip3"
kit_etcdctl del "/coreos.com/network/subnets/${key[n3]}" >/dev/null
wait_until 10 "n1 forgets n3" routes_are n1 "${key[n2]/-//}"
wait_until 10 "n2 forgets n3" routes_are n2 "${key[n1]/-//}"
assert_fails "n1 -> n3 pod after n3's lease is gone" pod_ping a1 "$ip3" 2
assert_ok "n1 -> n2 pod still" pod_ping a1 "$ip2"
pass "a deleted lease leaves the other nodes' routes"
