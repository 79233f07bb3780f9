#!/usr/bin/env bash
# An IPv6-only network (flannel's EnableIPv4:false) on the kit's dual-stack underlay, real
# etcd, 2 nodes: leases without IPv4 (key 0.0.0.0-0&<v6>-64, no BackendData), shuttle.1 with
# PublicIPv6 as its local address and no IPv4, one IPv6 route per peer; an up flannel-v6.1
# holding the port is named in /readyz; IPv6-only pods ping and move TCP both ways within a
# node and across nodes.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2 '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}'
kit_underlay_dual_stack
# n2 still runs flannel's IPv6 device on 8472: shuttle.1 cannot come up, and says why.
kit_node_exec n2 ip link add flannel-v6.1 type vxlan id 1 local fd77::12 dev eth0 dstport 8472 nolearning
kit_node_exec n2 ip link set flannel-v6.1 up
start_shuttled n1
start_shuttled n2
wait_ready n1
WAIT_DEBUG='readyz n2' wait_until 20 "n2's /readyz names flannel-v6.1" \
  sh -c "nsenter --target $(kit_node_pid n2) --net --mount curl -s --max-time 2 http://127.0.0.1:9465/readyz | grep -q 'held by flannel-v6.1'"
assert_fails "n2 not ready while flannel-v6.1 holds the port" \
  kit_node_exec n2 curl -sf --max-time 2 http://127.0.0.1:9465/readyz
kit_node_exec n2 ip link del flannel-v6.1
wait_ready n2
pass "port check: flannel-v6.1 on 8472 named in /readyz; shuttle.1 comes up once it is gone"

s1=$(node_subnet6 n1)
s2=$(node_subnet6 n2)
[[ -n $s1 && -n $s2 && $s1 != "$s2" ]] || fail "IPv6 subnets: '$s1' '$s2'"
keys=$(kit_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | sed '/^$/d' | sort)
assert_contains "$keys" "/coreos.com/network/subnets/0.0.0.0-0&$s1-64" "n1's IPv6-only lease key"
value=$(kit_etcdctl get --print-value-only "/coreos.com/network/subnets/0.0.0.0-0&$s2-64")
assert_not_contains "$value" '"BackendData"' "no IPv4 half in n2's lease"
mac2=$(kit_node_exec n2 cat /sys/class/net/shuttle.1/address)
assert_eq "$mac2" "$(jq -r .BackendV6Data.VtepMAC <<<"$value")" "n2's BackendV6Data VtepMAC is its device's MAC"
details=$(kit_node_exec n1 ip -d link show shuttle.1)
assert_contains "$details" "local fd77::11" "n1's shuttle.1 sends from its PublicIPv6"
assert_contains "$details" "dstport 8472" "... on flannel's port"
assert_eq "" "$(kit_node_exec n1 ip -4 -o addr show dev shuttle.1)" "no IPv4 address on an IPv6-only device"
assert_contains "$(kit_node_exec n1 ip -6 -o addr show dev shuttle.1)" "$s1/128" "n1's shuttle.1 holds its subnet's address"
wait_until 15 "n1's IPv6 route to n2" kit_node_exec n1 ip -6 route show "$s2/64"
assert_contains "$(kit_node_exec n1 ip -6 route show "$s2/64")" "encap ip6 id 1 src fd77::11 dst fd77::12" "n1's route to n2"
assert_contains "$(readyz n1)" "IPv6 only" "/readyz names the IPv6-only device"
pass "IPv6-only leases and device"

a=$(add_pod n1 a)
b=$(add_pod n1 b)
c=$(add_pod n2 c)
for p in a b c; do
  assert_eq 0 "$(kit_pod_exec "$p" ip -4 -o addr show dev eth0 | wc -l)" "pod $p has no IPv4"
done
[[ $a == "$s1"* && $c == "$s2"* ]] || fail "pods' IPv6 addresses outside their subnets: $a $c"
for pair in "a $b" "b $a" "a $c" "c $a" "b $c" "c $b"; do
  read -r from to <<<"$pair"
  assert_ok "IPv6 ping $from -> $to" pod_ping6 "$from" "$to"
done
assert_ok "n1 -> pod c (n2)" kit_node_exec n1 ping -6 -c 1 -W 2 "$c"
pod_tcp a b "$b" 2M || fail "TCP a -> b (same node)"
pod_tcp b a "$a" 2M || fail "TCP b -> a (same node)"
pod_tcp a c "$c" 2M || fail "TCP a -> c (across nodes)"
pod_tcp c a "$a" 2M || fail "TCP c -> a (across nodes)"
pass "IPv6-only pods: ping and TCP both ways, same node and across nodes"
