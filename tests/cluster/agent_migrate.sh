#!/usr/bin/env bash
# Migration of an etcd-mode flannel node (the README's steps): n1 ran flannel (flannel.1,
# cni0 + a bridge/host-local pod in store cbr0 with flannel's delegate file, subnet.env, its
# lease), n2 runs shuttled. shuttled on n1 does not bring its device up while flannel.1
# holds port 8472 and says so; once flannel.1 is gone it takes over flannel's lease (same
# key and subnet, its own VtepMAC advertised), writes the conflist under flannel's network
# name cbr0, adopts the running flannel pod (off cni0, which goes; reachable again from
# both nodes and the host; delegate file gone; DEL through shuttle cleans it up), and a new
# pod skips the address the flannel pod holds.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2
start_shuttled n2
wait_ready n2
flannel_node_setup n1 60 0e:66:6c:00:00:60
kit_pod_add old1
out=$(kit_cni n1 ADD ctr-old1 old1 eth0 "$FLANNEL_BRIDGE_CONF") || fail "bridge ADD: $out"
assert_eq 10.244.60.2/24 "$(jq -r '.ips[0].address' <<<"$out")" "flannel pod's address"
kit_node_exec n1 sh -c 'mkdir -p /var/lib/cni/flannel && echo "{\"type\":\"bridge\"}" >/var/lib/cni/flannel/ctr-old1'
wait_until 10 "n2 routes flannel's n1" routes_are n2 10.244.60.0/24
key2=$(node_subnet_key n2)
flannel_add_peer n1 "$key2" "$(kit_node_exec n2 cat /sys/class/net/shuttle.1/address)" "$(kit_node_ip n2)"
ip2=$(add_pod n2 s2)
assert_ok "before: flannel pod -> n2's pod" pod_ping old1 "$ip2"

# Switch: flanneld stopped (none runs here); shuttled started while flannel.1 is still up.
start_shuttled n1
wait_until 15 "n1 reports the port conflict" eval 'readyz n1 | grep -q "flannel.1"'
assert_fails "n1 not ready while flannel.1 holds the port" kit_node_exec n1 curl -sf http://127.0.0.1:9465/readyz
assert_eq 0 "$(tcx_count n1 eth0 ingress)" "no program takes flannel's VXLAN traffic off eth0 meanwhile"
t0=$(date +%s.%N)
kit_node_exec n1 ip link del flannel.1
wait_until 40 "n2's pod reaches the flannel pod again" pod_ping s2 10.244.60.2 1
echo "pod traffic n2 -> n1's flannel pod resumed $(awk -v a="$t0" -v b="$(date +%s.%N)" "BEGIN {printf \"%.1f\", b - a}") s after flannel.1 was deleted"
wait_ready n1 10
pass "shuttled waits for flannel.1 to go, then comes up"

assert_eq 10.244.60.0-24 "$(node_subnet_key n1)" "flannel's subnet kept (subnet.env)"
mac=$(kit_node_exec n1 cat /sys/class/net/shuttle.1/address)
assert_eq "{\"PublicIP\":\"$(kit_node_ip n1)\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"$mac\"}}" \
  "$(kit_etcdctl get --print-value-only /coreos.com/network/subnets/10.244.60.0-24)" \
  "flannel's lease taken over, now naming shuttle's VtepMAC"
assert_eq 1 "$(kit_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | grep -c "^/coreos.com/network/subnets/10.244.60")" \
  "no second lease for n1"
assert_eq cbr0 "$(kit_node_exec n1 jq -r .name /etc/cni/net.d/10-shuttle.conflist)" "conflist keeps flannel's network name"
wait_until 10 "n2 follows n1's new VtepMAC" eval \
  "nodes_json n2 | jq -e '.[] | select(.subnet == \"10.244.60.0/24\" and .routed == \"yes\" and .VtepMAC == \"$mac\")'"
pass "same lease and subnet, conflist cbr0, peers follow the new VtepMAC"

assert_contains "$(shuttled_log n1)" "migration from flannel: adopted 10.244.60.2 (ctr-old1)" "adoption logged"
assert_fails "cni0 deleted once empty" kit_node_exec n1 ip link show cni0
assert_fails "flannel's delegate file removed" kit_node_exec n1 test -e /var/lib/cni/flannel/ctr-old1
assert_ok "attachment record for shuttle's DEL" kit_node_exec n1 test -e /var/lib/cni/shuttle/cbr0/ctr-old1-eth0.json
assert_ok "adopted pod -> n2's pod" pod_ping old1 "$ip2" 3
assert_ok "n2's pod -> adopted pod" pod_ping s2 10.244.60.2 3
assert_ok "n1 (host) -> adopted pod" kit_node_exec n1 ping -c 2 -i 0.2 -W 2 10.244.60.2
pass "the running flannel pod is adopted and reachable again"

new_ip=$(add_pod n1 new1)
assert_eq 10.244.60.3 "$new_ip" "a new pod skips the flannel pod's reservation 10.244.60.2"
assert_eq ctr-old1 "$(kit_node_exec n1 head -n1 /var/lib/cni/networks/cbr0/10.244.60.2 | tr -d '\r')" \
  "the flannel pod's reservation is still there"
assert_ok "migrated node's new pod -> shuttle pod on n2" pod_ping new1 "$ip2" 3
assert_ok "n2's pod -> migrated node's new pod" pod_ping s2 "$new_ip" 3
assert_ok "new pod -> adopted pod (same node)" pod_ping new1 10.244.60.2 3
assert_eq direct "$(overlay_mode n1)" "the migrated node runs the direct overlay"
before=$(stat_count n1 redirect decap-direct)
assert_ok "n2's pod -> migrated node's new pod, again" pod_ping s2 "$new_ip" 2
(($(stat_count n1 redirect decap-direct) > before)) || fail "n1 did not decapsulate in from_underlay"
pass "pods on the migrated node talk across nodes"

kit_cni n1 DEL ctr-old1 old1 eth0 "$POD_CONF" >/dev/null || fail "DEL of the adopted pod through shuttle"
assert_fails "adopted pod's reservation released" kit_node_exec n1 test -e /var/lib/cni/networks/cbr0/10.244.60.2
assert_fails "its record removed" kit_node_exec n1 test -e /var/lib/cni/shuttle/cbr0/ctr-old1-eth0.json
assert_eq 0 "$(kit_pod_exec old1 ip -o link show eth0 2>/dev/null | wc -l)" "its eth0 is gone"
pass "DEL through shuttle removes the adopted pod"
