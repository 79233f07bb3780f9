#!/usr/bin/env bash
# Wire compatibility with flannel's dual-stack vxlan backend (issue 12 item 5): on the kit's
# dual-stack underlay, node n1 is configured exactly as flanneld with EnableIPv6 configures a
# node (flannel.1 as in agent_flannel_wire.sh, plus flannel-v6.1: VNI 1, port 8472, local =
# its PublicIPv6, nolearning, a MAC of its own; <v6 subnet>::/128 on it; per peer an IPv6
# permanent neighbour + FDB entry to the peer's PublicIPv6 + onlink route; bridge/host-local
# pods with one range per family; its lease in flannel's dual-stack key and bytes), n2 runs
# shuttled. Each sees the other's lease (n2 routes n1's IPv6 subnet to n1's PublicIPv6 with
# n1's BackendV6Data VtepMAC, which differs from its IPv4 one); pods ping and move TCP both
# ways over both families, each node reaches the other's pod over IPv6; the IPv6 frames n2
# sends (its direct path: ICMPv6, UDP, TCP) carry a correct, non-zero UDP checksum
# (flannel-v6.1 drops zero ones) and n1's v6 VtepMAC as inner destination, and flannel-v6.1
# takes them with n2's checksum offload off (outer checksums verified in software).
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2 "$FLANNEL6_CONFIG"
kit_underlay_dual_stack
n1_ip6=$(kit_node_ip6 n1)
n2_ip6=$(kit_node_ip6 n2)
mac1=0e:66:6c:00:00:50
mac1_v6=0e:66:6c:00:06:50
sub1_v6=fd00:10:244:50::

# --- n1: what flanneld's dual-stack vxlan backend does (agent_cluster_lib.bash) -------------
flannel_node_setup_dual_stack n1 50 "$mac1" 50 "$mac1_v6"
kit_pod_add f1
out=$(kit_cni n1 ADD ctr-f1 f1 eth0 "$FLANNEL_BRIDGE_CONF") || fail "bridge ADD: $out"
ip_f=$(jq -r '.ips[] | select(.version == "4") | .address' <<<"$out" | cut -d/ -f1)
ip_f6=$(jq -r '.ips[] | select(.version == "6") | .address' <<<"$out" | cut -d/ -f1)
assert_eq "10.244.50.2 ${sub1_v6}2" "$ip_f $ip_f6" "flannel-style pod's addresses"

# --- n2: shuttled on the same etcd ----------------------------------------------------------
start_shuttled n2
wait_ready n2
key2=$(kit_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | grep -v '10\.244\.50\.0' | grep .)
[[ $key2 =~ ^/coreos.com/network/subnets/10\.244\.[0-9]+\.0-24\&(fd00:10:244:[0-9a-f]+::)-64$ ]] ||
  fail "n2's lease key is not flannel's dual-stack key: $key2"
sub2_v6=${BASH_REMATCH[1]}
sub2=$(node_subnet_key n2)
sub2=${sub2/-//}
lease2=$(kit_etcdctl get --print-value-only "$key2")
mac2=$(kit_node_exec n2 cat /sys/class/net/shuttle.1/address)
# What flanneld parses from the lease's IPv6 half (PublicIPv6, BackendV6Data.VNI/VtepMAC).
assert_eq "$n2_ip6 1 $mac2" "$(jq -r '"\(.PublicIPv6) \(.BackendV6Data.VNI) \(.BackendV6Data.VtepMAC)"' <<<"$lease2")" \
  "n1 sees n2's lease: PublicIPv6, BackendV6Data VNI and VtepMAC (shuttle.1's MAC)"
assert_eq "$sub2_v6" "$(node_subnet6 n2)" "n2's subnet.env names its lease's IPv6 subnet"

wait_until 10 "n2 routes n1's IPv4 subnet" routes_are n2 10.244.50.0/24
wait_until 10 "n2 routes n1's IPv6 subnet" \
  sh -c "nsenter --net=/run/netns/$(kit_node_netns n2) ip -6 route show ${sub1_v6}/64 | grep -q encap"
route=$(kit_node_exec n2 ip -6 route show "${sub1_v6}/64")
assert_contains "$route" "encap ip6 id 1 src $n2_ip6 dst $n1_ip6 " "n2's route to n1's IPv6 subnet: tunnel to n1's PublicIPv6"
assert_contains "$route" " csum " "... with the outer UDP checksum on"
assert_contains "$route" "via $sub1_v6 dev shuttle.1" "... via n1's IPv6 VTEP address"
assert_contains "$(kit_node_exec n2 ip -6 neigh show dev shuttle.1 "$sub1_v6")" "lladdr $mac1_v6 PERMANENT" \
  "n2's neighbour for n1's IPv6 VTEP: BackendV6Data's VtepMAC (not BackendData's)"

# flanneld's EventAdded for n2's lease, both halves, from the lease's own values.
flannel_add_peer n1 "${sub2/\//-}" "$(jq -r .BackendData.VtepMAC <<<"$lease2")" "$(jq -r .PublicIP <<<"$lease2")"
flannel_add_peer6 n1 "$sub2_v6" "$(jq -r .BackendV6Data.VtepMAC <<<"$lease2")" "$(jq -r .PublicIPv6 <<<"$lease2")"
assert_contains "$(kit_node_exec n1 bridge fdb show dev flannel-v6.1)" "$mac2 dst $n2_ip6 self permanent" \
  "n1's FDB on flannel-v6.1: n2's VtepMAC at n2's PublicIPv6"
pass "each node sees the other's lease, both families"

# --- traffic both ways, both families ---------------------------------------------------------
ip_s=$(add_pod n2 s2)
ip_s6=$(pod6 s2)
[[ $ip_s6 == "$sub2_v6"* ]] || fail "shuttle pod's IPv6 $ip_s6 outside n2's subnet $sub2_v6/64"
assert_ok "ping IPv4 f1 -> s2" pod_ping f1 "$ip_s" 3
assert_ok "ping IPv4 s2 -> f1" pod_ping s2 "$ip_f" 3
# n2 (direct mode) sends its IPv6 with its own outer headers (redirect/encap-direct, not the
# device path's redirect/remote) and receives flannel's echoes through the device
# (from_overlay: redirect/decap): flannel-v6.1 offloads the outer checksum of a packet whose
# inner one is complete, so over the veth underlay it is not final yet and from_underlay
# leaves the frame to the kernel.
assert_eq direct "$(overlay_mode n2)" "n2 in direct mode"
sent=$(stat_count n2 redirect encap-direct); by_device=$(stat_count n2 redirect remote)
delivered=$(stat_count n2 redirect decap)
assert_ok "ping IPv6 f1 -> s2" pod_ping6 f1 "$ip_s6" 3
assert_ok "ping IPv6 s2 -> f1" pod_ping6 s2 "$ip_f6" 3
(($(stat_count n2 redirect encap-direct) >= sent + 6)) || fail "n2's from_pod did not encapsulate the IPv6 echoes itself"
assert_eq "$by_device" "$(stat_count n2 redirect remote)" "no IPv6 echo took n2's device path"
(($(stat_count n2 redirect decap) >= delivered + 6)) || fail "n2's from_overlay did not deliver flannel's IPv6"
assert_ok "flannel node -> shuttle pod over IPv6" kit_node_exec n1 ping -6 -c 2 -i 0.2 -W 2 "$ip_s6"
assert_ok "shuttle node -> flannel pod over IPv6" kit_node_exec n2 ping -6 -c 2 -i 0.2 -W 2 "$ip_f6"
pass "ping both ways over both families (n2's IPv6 through from_pod's direct path / from_overlay), and node -> remote pod over IPv6 both ways"
pod_tcp f1 s2 "$ip_s" || fail "TCP IPv4 flannel pod -> shuttle pod"
pod_tcp s2 f1 "$ip_f" || fail "TCP IPv4 shuttle pod -> flannel pod"
direct=$(stat_count n2 redirect decap-direct)
pod_tcp f1 s2 "$ip_s6" || fail "TCP IPv6 flannel pod -> shuttle pod"
# flannel-v6.1's TCP (checksum offload: the outer one by LCO, final) is stripped by from_underlay.
(($(stat_count n2 redirect decap-direct) > direct)) || fail "n2's from_underlay took none of flannel's IPv6 TCP"
pod_tcp s2 f1 "$ip_f6" || fail "TCP IPv6 shuttle pod -> flannel pod"
pass "TCP (1 MB, iperf3) both ways over both families"

# --- the wire: what n2 sends flannel-v6.1 ------------------------------------------------------
# Checksums computed in software (no offload on n2's eth0), so the capture sees the final one
# and flannel-v6.1's socket on n1 verifies the outer one in software: what it accepts is the
# proof. The pod's veth keeps its offload (TCP and UDP reach from_pod CHECKSUM_PARTIAL).
kit_node_exec n2 ethtool -K eth0 tx off >/dev/null
kit_underlay_exec "$py" "$frames_py" capture6 \
  --iface "k$(kit_run_id)-n2" --src "$n2_ip6" --count 9 --seconds 15 >"$(kit_run_dir)/frames6" &
capture=$!
kit_pod_spawn f1 "$(kit_run_dir)/udp6-f1.log" "$py" "$frames_py" listen --ip "$ip_f6" --port 5555 --seconds 30 --until done
udp_listener=$KIT_LAST_PID
wait_until 10 "UDP listener in f1" grep -q listening "$(kit_run_dir)/udp6-f1.log"
sent=$(stat_count n2 redirect encap-direct)
# An echo, a UDP datagram and a TCP handshake (to f1's closed port: SYN out, RST back) at a
# time until the capture has its frames (or its end): it starts listening at its own pace.
while kill -0 "$capture" 2>/dev/null; do
  pod_ping6 s2 "$ip_f6" 1 >/dev/null || sleep 0.2
  kit_pod_exec s2 "$py" "$frames_py" udp --to "$ip_f6" --payload v6-direct
  kit_pod_exec s2 "$py" -c "import socket; s = socket.socket(socket.AF_INET6); s.settimeout(2)
try: s.connect(('$ip_f6', 5556))
except OSError: pass"
done
wait "$capture" || fail "capture of IPv6 VXLAN frames failed"
assert_ok "ping IPv6 s2 -> f1 with n2's checksum offload off" pod_ping6 s2 "$ip_f6" 3
pod_tcp s2 f1 "$ip_f6" || fail "TCP IPv6 shuttle pod -> flannel pod with n2's checksum offload off"
kit_pod_exec s2 "$py" "$frames_py" udp --to "$ip_f6" --payload done
wait "$udp_listener" || true
moved=$(($(stat_count n2 redirect encap-direct) - sent))
frames=$(cat "$(kit_run_dir)/frames6")
kit_node_exec n2 ethtool -K eth0 tx on >/dev/null
assert_eq 9 "$(grep -c . <<<"$frames")" "nine IPv6 VXLAN frames from n2 captured"
assert_not_contains "$frames" "csum=zero" "no zero UDP checksum"
assert_not_contains "$frames" "csum=bad" "no wrong UDP checksum"
assert_not_contains "$frames" "inner_csum=bad" "no wrong inner checksum"
assert_contains "$frames" "dst=$n1_ip6 dport=8472 vni=1 csum=ok inner_dst=$mac1_v6" \
  "outer to n1's PublicIPv6, 8472, VNI 1, inner MAC flannel-v6.1's"
for proto in icmpv6 udp tcp; do
  assert_contains "$frames" "csum=ok inner_dst=$mac1_v6 inner=$proto inner_csum=ok" "a $proto frame with both checksums right"
done
((moved >= 9)) || fail "n2's direct path sent only $moved packets meanwhile"
assert_contains "$(cat "$(kit_run_dir)/udp6-f1.log")" "v6-direct" "flannel-v6.1 accepted the direct path's UDP"
pass "on the wire to flannel-v6.1 (n2's direct path, $moved packets): IPv6 outer, VNI 1, correct non-zero outer and right inner checksums for ICMPv6, UDP and TCP; flannel's device accepts them (ping, UDP, TCP)"
