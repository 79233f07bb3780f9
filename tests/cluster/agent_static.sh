#!/usr/bin/env bash
# shuttled --static-nodes (a cluster without etcd) owns the datapath like the etcd agent:
# each node's device carries the file's VtepMAC, pods on the two nodes talk, and an edit of
# the file removing a node empties the other's routes map.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

kit_cluster_up 2
POD_CONF=$(kit_run_dir)/pod.conf
echo '{"cniVersion": "1.0.0", "name": "cbr0", "type": "shuttle", "subnetFile": "/run/flannel/subnet.env", "ipMasq": false}' >"$POD_CONF"
nodes_file=$(kit_run_dir)/nodes.json
write_nodes() {  # the nodes to list
  local entries=() n
  for n in "$@"; do
    case $n in
      n1) entries+=("{\"subnet\":\"10.244.11.0/24\",\"PublicIP\":\"$(kit_node_ip n1)\",\"VtepMAC\":\"02:00:00:00:00:11\",\"VNI\":1}") ;;
      n2) entries+=("{\"subnet\":\"10.244.12.0/24\",\"PublicIP\":\"$(kit_node_ip n2)\",\"VtepMAC\":\"02:00:00:00:00:12\",\"VNI\":1}") ;;
    esac
  done
  local IFS=,
  echo "{\"Network\":\"10.244.0.0/16\",\"Nodes\":[${entries[*]}]}" >"$nodes_file.tmp"
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

write_nodes n1
wait_until 10 "n1's routes map empties" map_is n1
assert_fails "t1 -> t2 without the route" pod_ping t1 "$ip2" 1
pass "a node removed from the file leaves the routes map"
