#!/usr/bin/env bash
# Fault matrix: etcd loses its data (stopped, data dir removed, started empty), then the
# operator writes the network config back. Every node must lease its own subnet again
# (the one in its subnet.env), no two nodes one subnet, every routes map back to exactly the
# other nodes' leases, and traffic across nodes back. The agents keep the network config
# they loaded at start, so they re-lease as soon as etcd answers, before the config is
# back. The time from etcd's return to the leases and to a full mesh, and the longest ping
# gap, are printed.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

config='{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'
agent_cluster_up 3 "$config"
for n in n1 n2 n3; do start_shuttled "$n"; done
for n in n1 n2 n3; do wait_ready "$n"; done
declare -A key env_file
for n in n1 n2 n3; do
  key[$n]=$(node_subnet_key "$n")
  env_file[$n]=$(kit_node_exec "$n" cat /run/flannel/subnet.env)
done
for n in n1 n2 n3; do
  others=()
  for o in n1 n2 n3; do [[ $o == "$n" ]] || others+=("${key[$o]/-//}"); done
  wait_until 10 "$n routes the others" routes_are "$n" "${others[@]}"
done
ip1=$(add_pod n1 l1)
ip2=$(add_pod n2 l2)
assert_ok "l1 -> l2 before" pod_ping l1 "$ip2"

ping_log=$(kit_run_dir)/ping.log
start_pinger l1 "$ip2" "$ping_log"
pinger=$PINGER_PID

kit_etcd_stop
rm -rf "$(kit_run_dir)/etcd/data"
kit_etcd_start
started=$(date +%s%N)
assert_eq "" "$(kit_etcdctl get --print-value-only /coreos.com/network/config)" "etcd came back without the config"

leases_back() {
  local n value
  for n in n1 n2 n3; do
    value=$(kit_etcdctl get --print-value-only "/coreos.com/network/subnets/${key[$n]}")
    [[ $value == *"\"PublicIP\":\"$(kit_node_ip "$n")\""* ]] || return 1
  done
}
mesh_back() {
  local n o others
  for n in n1 n2 n3; do
    others=()
    for o in n1 n2 n3; do [[ $o == "$n" ]] || others+=("${key[$o]/-//}"); done
    routes_are "$n" "${others[@]}" || return 1
  done
}
WAIT_DEBUG='for n in n1 n2 n3; do echo "--- $n"; shuttled_log $n | tail -8; done; kit_etcdctl get --prefix /coreos.com/network/'
wait_until 60 "every node leases its own subnet again" leases_back
lease_ms=$((($(date +%s%N) - started) / 1000000))
wait_until 60 "every routes map holds the other two leases" mesh_back
mesh_ms=$((($(date +%s%N) - started) / 1000000))
kit_etcdctl put /coreos.com/network/config "$config" >/dev/null
for n in n1 n2 n3; do wait_ready "$n" 30; done
assert_eq 3 "$(kit_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | grep -c .)" "three leases, one per node"
assert_eq 3 "$(kit_etcdctl get --prefix --print-value-only /coreos.com/network/subnets/ | jq -r .PublicIP | sort -u | wc -l)" \
  "three PublicIPs"
for n in n1 n2 n3; do
  assert_eq "${env_file[$n]}" "$(kit_node_exec "$n" cat /run/flannel/subnet.env)" "$n's subnet.env unchanged"
done
assert_ok "l2 -> l1 after" pod_ping l2 "$ip1"
sleep 1
stop_pinger "$pinger"
gap=$(longest_gap_ms "$ping_log")
echo "leases back ${lease_ms} ms and the mesh ${mesh_ms} ms after etcd came back empty; longest ping gap ~${gap} ms"
((gap < 30000)) || fail "pod traffic gap of ${gap} ms"
pass "after etcd's data is lost every node re-leases its own subnet, distinct, and the mesh is back"
