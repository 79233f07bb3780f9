#!/usr/bin/env bash
# Migration of an etcd-mode flannel node with EnableIPv6 (agent_migrate.sh's steps on the
# kit's dual-stack underlay): n1 ran flanneld's dual-stack vxlan backend (flannel.1 and
# flannel-v6.1, cni0 + a bridge/host-local pod with one address per family in store cbr0,
# flannel's delegate file, subnet.env with its IPv6 lines, the dual-stack lease), n2 runs
# shuttled. shuttled on n1 waits while flannel's devices hold port 8472; once both are gone
# it takes over the lease (same dual-stack key, both halves naming shuttle.1's MAC), keeps
# both subnets, and adopts the running pod for both families (IPv6 too: gateway /128 on the
# host veth, <pod>/128 route, its IPv6 in the record and the endpoint); traffic from n2
# resumes over IPv4 and IPv6 (ping both ways, TCP over IPv6), the host and a new pod (which
# skips both reservations) reach the adopted pod over IPv6, and DEL through shuttle releases
# both addresses. No way back, as in agent_migrate.sh.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2 "$FLANNEL6_CONFIG"
kit_underlay_dual_stack
start_shuttled n2
wait_ready n2
sub1_v6=fd00:10:244:60::
flannel_node_setup_dual_stack n1 60 0e:66:6c:00:00:60 60 0e:66:6c:00:06:60
kit_pod_add old1
out=$(kit_cni n1 ADD ctr-old1 old1 eth0 "$FLANNEL_BRIDGE_CONF") || fail "bridge ADD: $out"
assert_eq "10.244.60.2/24 ${sub1_v6}2/64" "$(jq -r '[.ips[].address] | join(" ")' <<<"$out")" "flannel pod's addresses"
old6=${sub1_v6}2
kit_node_exec n1 sh -c 'mkdir -p /var/lib/cni/flannel && echo "{\"type\":\"bridge\"}" >/var/lib/cni/flannel/ctr-old1'
wait_until 10 "n2 routes flannel's n1" routes_are n2 10.244.60.0/24
wait_until 10 "n2 routes flannel's n1 over IPv6" \
  sh -c "nsenter --net=/run/netns/$(kit_node_netns n2) ip -6 route show ${sub1_v6}/64 | grep -q encap"
mac2=$(kit_node_exec n2 cat /sys/class/net/shuttle.1/address)
sub2_v6=$(node_subnet6 n2)
flannel_add_peer n1 "$(node_subnet_key n2)" "$mac2" "$(kit_node_ip n2)"
flannel_add_peer6 n1 "$sub2_v6" "$mac2" "$(kit_node_ip6 n2)"
ip2=$(add_pod n2 s2)
ip2_v6=$(pod6 s2)
assert_ok "before: flannel pod -> n2's pod" pod_ping old1 "$ip2"
assert_ok "before: flannel pod -> n2's pod over IPv6" pod_ping6 old1 "$ip2_v6"

# Switch: flanneld stopped (none runs here); shuttled started while flannel's devices are up.
start_shuttled n1
wait_until 15 "n1 reports the port conflict" eval 'readyz n1 | grep -q "flannel"'
assert_fails "n1 not ready while flannel's devices hold the port" kit_node_exec n1 curl -sf http://127.0.0.1:9465/readyz
t0=$(date +%s.%N)
kit_node_exec n1 ip link del flannel.1
kit_node_exec n1 ip link del flannel-v6.1
wait_until 40 "n2's pod reaches the flannel pod again" pod_ping s2 10.244.60.2 1
since() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }
echo "pod traffic n2 -> n1's flannel pod resumed over IPv4 $(since) s after flannel's devices were deleted"
wait_until 20 "n2's pod reaches the flannel pod again over IPv6" pod_ping6 s2 "$old6" 1
echo "... and over IPv6 $(since) s after"
wait_ready n1 10
pass "shuttled waits for flannel.1 and flannel-v6.1 to go, then comes up"

mac=$(kit_node_exec n1 cat /sys/class/net/shuttle.1/address)
key="/coreos.com/network/subnets/10.244.60.0-24&${sub1_v6}-64"
assert_eq "{\"PublicIP\":\"$(kit_node_ip n1)\",\"PublicIPv6\":\"$(kit_node_ip6 n1)\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"$mac\"},\"BackendV6Data\":{\"VNI\":1,\"VtepMAC\":\"$mac\"}}" \
  "$(kit_etcdctl get --print-value-only "$key")" \
  "flannel's dual-stack lease taken over (same key), both halves naming shuttle's VtepMAC"
assert_eq 1 "$(kit_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | grep -c "^/coreos.com/network/subnets/10.244.60")" \
  "no second lease for n1"
assert_eq "$sub1_v6" "$(node_subnet6 n1)" "flannel's IPv6 subnet kept (subnet.env)"
wait_until 10 "n2 follows n1's new IPv6 VtepMAC" \
  kit_node_exec n2 sh -c "ip -6 neigh show dev shuttle.1 $sub1_v6 | grep -q 'lladdr $mac PERMANENT'"
pass "same dual-stack lease and subnets, peers follow the new VtepMAC over IPv6"

assert_contains "$(shuttled_log n1)" "migration from flannel: adopted 10.244.60.2 and $old6 (ctr-old1)" "adoption of both addresses logged"
assert_fails "cni0 deleted once empty" kit_node_exec n1 ip link show cni0
record=$(kit_node_exec n1 cat /var/lib/cni/shuttle/cbr0/ctr-old1-eth0.json)
assert_eq "10.244.60.2/24 ${old6}/64 ${sub1_v6}1" "$(jq -r '(.addresses | join(" ")) + " " + .gateway6' <<<"$record")" \
  "the attachment record holds both addresses and the IPv6 gateway"
for pair in "old1 $ip2 $ip2_v6" "s2 10.244.60.2 $old6"; do
  read -r from to4 to6 <<<"$pair"
  assert_ok "ping IPv4 $from -> $to4 after the switch" pod_ping "$from" "$to4"
  assert_ok "ping IPv6 $from -> $to6 after the switch" pod_ping6 "$from" "$to6"
done
assert_ok "n1 (host) -> adopted pod over IPv6" kit_node_exec n1 ping -6 -c 2 -i 0.2 -W 2 "$old6"
pod_tcp s2 old1 "$old6" || fail "TCP IPv6 n2's pod -> adopted pod"
assert_eq "$old6" "$(kit_node_exec n1 "$bin/shuttlectl" --json endpoints | jq -r '.[] | select(.ip == "10.244.60.2") | .ip6')" \
  "the adopted pod's endpoint has its IPv6 address (shuttled wrote the node's IPv6 config)"
pass "the running flannel pod is adopted and reachable again over both families"

new_ip=$(add_pod n1 new1)
new6=$(pod6 new1)
assert_eq "10.244.60.3 ${sub1_v6}3" "$new_ip $new6" "a new pod skips the flannel pod's reservations"
assert_ok "new pod -> adopted pod over IPv6 (same node)" pod_ping6 new1 "$old6"
assert_ok "adopted pod -> new pod over IPv6 (same node)" pod_ping6 old1 "$new6"
assert_ok "n2's pod -> migrated node's new pod over IPv6" pod_ping6 s2 "$new6"
pass "pods on the migrated node talk over IPv6, across nodes and within it"

kit_cni n1 DEL ctr-old1 old1 eth0 "$POD_CONF" >/dev/null || fail "DEL of the adopted pod through shuttle"
assert_fails "adopted pod's IPv4 reservation released" kit_node_exec n1 test -e /var/lib/cni/networks/cbr0/10.244.60.2
assert_fails "adopted pod's IPv6 reservation released" kit_node_exec n1 test -e "/var/lib/cni/networks/cbr0/$old6"
assert_eq "" "$(kit_node_exec n1 ip -6 route show "$old6/128")" "its IPv6 host route is gone"
pass "DEL through shuttle removes the adopted pod, both families"
