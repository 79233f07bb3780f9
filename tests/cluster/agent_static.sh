#!/usr/bin/env bash
# shuttled --static-nodes (a cluster without etcd) owns the datapath like the etcd agent:
# each node's device carries the file's VtepMAC, pods on the two nodes talk, and an edit of
# the file removing a node empties the other's routes map. The file is dual-stack (each
# node's IPv6Subnet and PublicIPv6 on the kit's dual-stack underlay): subnet.env gets the
# IPv6 lines, pods both families, shuttle.1 one `encap ip6` route per peer, and IPv6 crosses
# the nodes; the removed node's IPv6 route goes too.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

kit_cluster_up 2
kit_underlay_dual_stack
POD_CONF=$(kit_run_dir)/pod.conf
echo '{"cniVersion": "1.0.0", "name": "cbr0", "type": "shuttle", "subnetFile": "/run/flannel/subnet.env", "ipMasq": false}' >"$POD_CONF"
nodes_file=$(kit_run_dir)/nodes.json
write_nodes() {  # the nodes to list
  local entries=() n
  for n in "$@"; do
    case $n in
      n1) entries+=("{\"subnet\":\"10.244.11.0/24\",\"PublicIP\":\"$(kit_node_ip n1)\",\"VtepMAC\":\"02:00:00:00:00:11\",\"VNI\":1,\"IPv6Subnet\":\"fd00:10:244:11::/64\",\"PublicIPv6\":\"$(kit_node_ip6 n1)\"}") ;;
      n2) entries+=("{\"subnet\":\"10.244.12.0/24\",\"PublicIP\":\"$(kit_node_ip n2)\",\"VtepMAC\":\"02:00:00:00:00:12\",\"VNI\":1,\"IPv6Subnet\":\"fd00:10:244:12::/64\",\"PublicIPv6\":\"$(kit_node_ip6 n2)\"}") ;;
    esac
  done
  local IFS=,
  echo "{\"Network\":\"10.244.0.0/16\",\"IPv6Network\":\"fd00:10:244::/56\",\"Nodes\":[${entries[*]}]}" >"$nodes_file.tmp"
  mv "$nodes_file.tmp" "$nodes_file"
}
write_nodes n1 n2
for n in n1 n2; do start_shuttled "$n" --static-nodes "$nodes_file"; done
for n in n1 n2; do wait_ready "$n"; done
assert_eq 02:00:00:00:00:11 "$(kit_node_exec n1 cat /sys/class/net/shuttle.1/address)" "n1's device has the file's VtepMAC"
wait_until 10 "n1 routes n2" map_is n1 10.244.12.0/24
wait_until 10 "n2 routes n1" map_is n2 10.244.11.0/24
ip1=$(add_pod n1 t1)
ip2=$(add_pod n2 t2)
assert_eq 10.244.11.2 "$ip1" "n1's pod from the file's subnet"
assert_ok "t1 -> t2" pod_ping t1 "$ip2"
assert_ok "t2 -> t1" pod_ping t2 "$ip1"
pass "static nodes: devices, routes and pod traffic"

assert_contains "$(kit_node_exec n1 cat /run/flannel/subnet.env)" "FLANNEL_IPV6_SUBNET=fd00:10:244:11::1/64" "n1's subnet.env has its IPv6 subnet"
assert_contains "$(readyz n1)" "IPv6 fd00:10:244:11::/128 with 1 IPv6 route(s)" "n1's /readyz names the IPv6 overlay"
assert_contains "$(kit_node_exec n1 ip -6 route show fd00:10:244:12::/64)" "encap ip6 id 1 src $(kit_node_ip6 n1) dst $(kit_node_ip6 n2)" \
  "n1's IPv6 route to n2: tunnel to n2's PublicIPv6 from the file"
a6=$(pod6 t1)
b6=$(pod6 t2)
[[ $a6 == fd00:10:244:11:* && $b6 == fd00:10:244:12:* ]] || fail "pods' IPv6 addresses outside their subnets: $a6 $b6"
assert_ok "IPv6 t1 -> t2" pod_ping6 t1 "$b6"
assert_ok "IPv6 t2 -> t1" pod_ping6 t2 "$a6"
pass "static nodes with IPv6 halves: subnet.env, /readyz, encap ip6 route, IPv6 pod traffic across nodes"

write_nodes n1
wait_until 10 "n1's routes map empties" map_is n1
assert_fails "t1 -> t2 without the route" pod_ping t1 "$ip2" 1
assert_eq "" "$(kit_node_exec n1 ip -6 route show fd00:10:244:12::/64)" "n1's IPv6 route to n2 removed"
pass "a node removed from the file leaves the routes map and the IPv6 routes"
