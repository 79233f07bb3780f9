#!/usr/bin/env bash
# Wire compatibility with flannel: node n1 is configured exactly as flanneld's vxlan backend
# configures a node (flannel.1 VNI 1 port 8472 nolearning, <subnet>.0/32, per peer a
# permanent neighbour + FDB entry + onlink route; pods on Debian's bridge plugin +
# host-local as flannel's CNI plugin delegates; its lease written to etcd in flannel's
# format), n2 runs shuttled. Pods exchange ICMP and TCP both ways, host -> remote pod works,
# and each node sees the other's lease; with n2 in direct overlay mode (the default: its
# eBPF programs write and strip the VXLAN headers flannel.1 reads and writes), then in
# device mode.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2
n1_ip=$(kit_node_ip n1)
n2_ip=$(kit_node_ip n2)

# --- n1: what flanneld does, step by step (agent_cluster_lib.bash) ------------------------
flannel_node_setup n1 50 0e:66:6c:00:00:50
kit_pod_add f1
out=$(kit_cni n1 ADD ctr-f1 f1 eth0 "$FLANNEL_BRIDGE_CONF") || fail "bridge ADD: $out"
ip_f=$(jq -r '.ips[0].address' <<<"$out" | cut -d/ -f1)
assert_eq 10.244.50.2 "$ip_f" "flannel-style pod address"

# --- n2: shuttled -------------------------------------------------------------------------
start_shuttled n2
wait_ready n2
key2=$(node_subnet_key n2)
sub2=${key2/-//}
lease2=$(kit_etcdctl get --print-value-only "/coreos.com/network/subnets/$key2")
# What flanneld parses from the lease (pkg/lease: PublicIP, BackendType, BackendData.VtepMAC).
assert_eq "$n2_ip" "$(jq -r .PublicIP <<<"$lease2")" "n1 sees n2's lease: PublicIP"
assert_eq vxlan "$(jq -r .BackendType <<<"$lease2")" "n1 sees n2's lease: BackendType"
assert_eq 1 "$(jq -r .BackendData.VNI <<<"$lease2")" "n1 sees n2's lease: VNI"
mac2=$(jq -r .BackendData.VtepMAC <<<"$lease2")
assert_eq "$(kit_node_exec n2 cat /sys/class/net/shuttle.1/address)" "$mac2" "advertised VtepMAC is the device's"
wait_until 10 "n2 sees n1's flannel lease" routes_are n2 10.244.50.0/24

# flanneld's EventAdded for n2: neighbour, FDB, then the onlink route (flannel's order).
flannel_add_peer n1 "$key2" "$mac2" "$n2_ip"
pass "each node sees the other's lease"

ip_s=$(add_pod n2 s2)

# both_ways <mode>: ICMP and TCP between the flannel pod and the shuttle pod, both ways, and
# host -> remote pod; the counters of n2's overlay mode move.
both_ways() {
  local mode=$1 send=encap-direct receive=decap-direct s r
  [[ $mode == direct ]] || { send=remote receive=decap; }
  assert_eq "$mode" "$(overlay_mode n2)" "n2's overlay mode"
  s=$(stat_count n2 redirect "$send")
  r=$(stat_count n2 redirect "$receive")
  assert_ok "$mode: flannel pod -> shuttle pod" pod_ping f1 "$ip_s" 3
  assert_ok "$mode: shuttle pod -> flannel pod" pod_ping s2 "$ip_f" 3
  assert_ok "$mode: flannel node -> shuttle pod" kit_node_exec n1 ping -c 2 -i 0.2 -W 2 "$ip_s"
  assert_ok "$mode: shuttle node -> flannel pod" kit_node_exec n2 ping -c 2 -i 0.2 -W 2 "$ip_f"
  kit_pod_spawn s2 "$(kit_run_dir)/iperf-s2.log" iperf3 -s -1 -B "$ip_s"
  # (a fixed 0.5 s here was too short at load 19: "Connection refused")
  wait_until 10 "iperf3 listening in s2" sh -c "nsenter --net=$(kit_pod_path s2) ss -ltn | grep -q ':5201 '"
  assert_ok "$mode: TCP flannel pod -> shuttle pod" kit_pod_exec f1 iperf3 -c "$ip_s" -t 2 -b 50M
  kit_pod_spawn f1 "$(kit_run_dir)/iperf-f1.log" iperf3 -s -1 -B "$ip_f"
  wait_until 10 "iperf3 listening in f1" sh -c "nsenter --net=$(kit_pod_path f1) ss -ltn | grep -q ':5201 '"
  assert_ok "$mode: TCP shuttle pod -> flannel pod" kit_pod_exec s2 iperf3 -c "$ip_f" -t 2 -b 50M
  (($(stat_count n2 redirect "$send") > s)) || fail "$mode: redirect $send did not move on n2"
  (($(stat_count n2 redirect "$receive") > r)) || fail "$mode: redirect $receive did not move on n2"
  pass "$mode mode: a flannel vxlan node and a shuttle node exchange pod traffic both ways"
}

both_ways direct
kit_stop "${SHUTTLED_PID[n2]}"
start_shuttled n2 --overlay device
wait_ready n2
both_ways device
