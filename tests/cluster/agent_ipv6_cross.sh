#!/usr/bin/env bash
# IPv6 across nodes (issue 12 item 3): a 3-node dual-stack cluster (flannel's EnableIPv6
# config, the kit's dual-stack underlay, a real etcd). Pods get one address per family;
# ping and TCP both ways within a node and across nodes for each family; the node reaches a
# remote pod over IPv6; shuttle.1 holds its IPv6 /128, one route + permanent neighbour per
# peer's IPv6 lease with an `encap ip6` to the peer's PublicIPv6, /readyz says so; the outer
# IPv6 UDP checksum is set (and right) on the wire, for the direct path's ICMPv6, UDP and
# TCP frames; a deleted /128 is put back, and a peer's
# route + neighbour deleted by hand too (maintain(), not a peer change); shuttlectl routes6
# and peers6 show the maps of the IPv6 paths (JSON and table), status their fill levels; a
# peers6 map emptied or changed by hand (bpftool) is written again by the 5 s repair; a lost
# lease takes its IPv6 route away;
# IPv6 pod traffic to other nodes is encapsulated by from_pod and delivered by from_overlay
# (counters); after uninstall the node's IPv6 pods keep talking (host routing).
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 3 "$FLANNEL6_CONFIG"
kit_underlay_dual_stack
for n in n1 n2 n3; do start_shuttled "$n"; done
for n in n1 n2 n3; do wait_ready "$n"; done

# --- shuttle.1 carries IPv6: its /128, one route + neighbour per peer, /readyz, status -------
declare -A SUB6
for n in n1 n2 n3; do SUB6[$n]=$(node_subnet6 "$n"); [[ -n ${SUB6[$n]} ]] || fail "$n has no IPv6 subnet"; done
mac_n2=$(kit_node_exec n2 cat /sys/class/net/shuttle.1/address)
assert_contains "$(kit_node_exec n1 ip -6 -o addr show dev shuttle.1)" "${SUB6[n1]}/128" "n1's shuttle.1 holds its IPv6 subnet's address"
wait_until 15 "n1 has IPv6 routes to n2 and n3" \
  sh -c "[ \$(nsenter --net=/run/netns/$(kit_node_netns n1) ip -6 route show dev shuttle.1 | grep -c encap) = 2 ]"
route=$(kit_node_exec n1 ip -6 route show "${SUB6[n2]}/64")
assert_contains "$route" "encap ip6 id 1 src fd77::11 dst fd77::12" "n1's route to n2's IPv6 subnet: tunnel to n2's PublicIPv6"
assert_contains "$route" "via ${SUB6[n2]} dev shuttle.1" "... via n2's IPv6 VTEP address"
assert_contains "$route" "onlink" "... onlink"
assert_contains "$(kit_node_exec n1 ip -6 neigh show dev shuttle.1 "${SUB6[n2]}")" "lladdr $mac_n2 PERMANENT" \
  "n1's neighbour for n2's VTEP address: n2's device MAC, permanent"
v6mac=$(kit_etcdctl get --prefix --print-value-only /coreos.com/network/subnets/ |
  jq -r --arg ip fd77::12 'select(.PublicIPv6 == $ip) | .BackendV6Data.VtepMAC')
assert_eq "$mac_n2" "$v6mac" "n2's BackendV6Data VtepMAC is shuttle.1's MAC"
assert_contains "$(readyz n1)" "IPv6 ${SUB6[n1]}/128 with 2 IPv6 route(s)" "/readyz names the IPv6 overlay"
status=$(kit_node_exec n1 "$bin/shuttlectl" --json status)
assert_eq "shuttle.1 ${SUB6[n1]}/128 2" "$(jq -r '.overlay_ipv6 | "\(.ifname) \(.address) \(.routes | length)"' <<<"$status")" \
  "shuttlectl status shows the IPv6 overlay"
kit_node_exec n2 ip -6 addr del "${SUB6[n2]}/128" dev shuttle.1
wait_until 15 "n2's IPv6 address on shuttle.1 put back by the 5 s repair" \
  kit_node_exec n2 sh -c "ip -6 addr show dev shuttle.1 | grep -q '${SUB6[n2]}/128'"
pass "shuttle.1 carries IPv6: address, routes, neighbours, lease MAC, /readyz, shuttlectl status, repair"

# --- pods: one address per family; ping and TCP both ways, same node and across nodes ------
a=$(add_pod n1 a); b=$(add_pod n1 b); c=$(add_pod n2 c); d=$(add_pod n3 d)
a6=$(pod6 a); b6=$(pod6 b); c6=$(pod6 c); d6=$(pod6 d)
for p in a b c d; do
  assert_eq 1 "$(kit_pod_exec "$p" ip -4 -o addr show dev eth0 | wc -l)" "pod $p: one IPv4 address"
  assert_eq 1 "$(kit_pod_exec "$p" ip -6 -o addr show dev eth0 scope global | wc -l)" "pod $p: one IPv6 address"
done
[[ $a6 == "${SUB6[n1]}"* && $c6 == "${SUB6[n2]}"* && $d6 == "${SUB6[n3]}"* ]] ||
  fail "IPv6 addresses outside their node's subnet: $a6 $c6 $d6"
for pair in "a b $b $b6" "b a $a $a6" "a c $c $c6" "c a $a $a6" "c d $d $d6" "d c $c $c6" "a d $d $d6" "d a $a $a6"; do
  read -r from to ip4 ip6 <<<"$pair"
  assert_ok "ping IPv4 $from -> $to" pod_ping "$from" "$ip4"
  assert_ok "ping IPv6 $from -> $to" pod_ping6 "$from" "$ip6"
done
pass "ping over both families: same node (a<->b) and across nodes (a<->c, c<->d, a<->d), both ways"

# --- IPv6 across nodes goes through the programs (routes6), not the stack's routes ---------
# The nodes run in direct mode: n1's from_pod pushes the IPv6 outer headers itself
# (redirect/encap-direct; the device path's redirect/remote stays still for echoes), n2's
# from_underlay strips them and delivers (redirect/decap-direct; from_overlay's
# redirect/decap stays still).
assert_eq direct "$(overlay_mode n1)" "n1 in direct mode"
sent=$(stat_count n1 redirect encap-direct); by_device=$(stat_count n1 redirect remote)
delivered=$(stat_count n2 redirect decap-direct); by_device2=$(stat_count n2 redirect decap)
assert_ok "ping IPv6 a -> c, 5 echoes" pod_ping6 a "$c6" 5
(($(stat_count n1 redirect encap-direct) >= sent + 5)) || fail "n1's from_pod did not encapsulate the IPv6 echoes itself"
assert_eq "$by_device" "$(stat_count n1 redirect remote)" "no IPv6 echo took n1's device path"
(($(stat_count n2 redirect decap-direct) >= delivered + 5)) || fail "n2's from_underlay did not deliver the IPv6 echoes"
assert_eq "$by_device2" "$(stat_count n2 redirect decap)" "no IPv6 echo took n2's device path"
pass "IPv6 to another node: from_pod's direct path sends it, from_underlay's delivers it (counters)"

# --- a peer's IPv6 route and neighbour deleted by hand: the 5 s repair puts them back -------
kit_node_exec n1 ip -6 route del "${SUB6[n2]}/64" dev shuttle.1
kit_node_exec n1 ip -6 neigh del "${SUB6[n2]}" dev shuttle.1
wait_until 7 "n1's IPv6 route to n2 put back by the repair" \
  sh -c "nsenter --net=/run/netns/$(kit_node_netns n1) ip -6 route show ${SUB6[n2]}/64 | grep -q 'encap ip6 id 1 src fd77::11 dst fd77::12'"
wait_until 7 "n1's neighbour for n2 put back" \
  sh -c "nsenter --net=/run/netns/$(kit_node_netns n1) ip -6 neigh show dev shuttle.1 ${SUB6[n2]} | grep -q 'lladdr $mac_n2 PERMANENT'"
assert_contains "$(shuttled_log n1)" "IPv6 overlay drift: IPv6 route to ${SUB6[n2]}/64 missing on shuttle.1; repairing" \
  "shuttled's periodic repair (not a peer change) put it back"
assert_ok "ping IPv6 a -> c after the repair" pod_ping6 a "$c6"
assert_ok "ping IPv6 c -> a after the repair" pod_ping6 c "$a6"
pass "a peer's IPv6 route and neighbour deleted by hand are repaired within one 5 s round, traffic flows"

# --- shuttlectl routes6 / peers6: the maps of from_pod's IPv6 path and the tunnel check ----
ctl() { kit_node_exec n1 "$bin/shuttlectl" "$@"; }
mac_n3=$(kit_node_exec n3 cat /sys/class/net/shuttle.1/address)
# (sorted by subnet: the leases' subnets are random)
assert_eq "$(printf '%s\n' "${SUB6[n2]}/64 fd77::12 fd77::11 $mac_n2 1" "${SUB6[n3]}/64 fd77::13 fd77::11 $mac_n3 1" | LC_ALL=C sort | paste -sd,)" \
  "$(ctl --json routes6 | jq -r '[.[] | "\(.subnet) \(.underlay_ip) \(.local_ip) \(.vtep_mac) \(.vni)"] | sort | join(",")')" \
  "shuttlectl --json routes6: n1's IPv6 routes to n2 and n3 (subnet, their and our PublicIPv6, VtepMAC, VNI)"
table=$(ctl routes6)
assert_contains "$table" "SUBNET" "shuttlectl routes6 has a header"
grep -qE "^${SUB6[n2]}/64 +fd77::12 +fd77::11 +$mac_n2 +1\$" <<<"$table" || fail "shuttlectl routes6 has no row for n2: $table"
peers6_of_n1() { ctl --json peers6 | jq -r '[.[] | "\(.underlay_ip) \(.subnet)"] | join(",")'; }
want_peers6="fd77::12 ${SUB6[n2]}/64,fd77::13 ${SUB6[n3]}/64"
assert_eq "$want_peers6" "$(peers6_of_n1)" "shuttlectl --json peers6: n2's and n3's PublicIPv6 and IPv6 subnet"
table=$(ctl peers6)
grep -qE "^fd77::13 +${SUB6[n3]}/64\$" <<<"$table" || fail "shuttlectl peers6 has no row for n3: $table"
assert_eq "2 2 true" "$(ctl --json status | jq -r '"\(.maps.routes6.used) \(.maps.peers6.used) \(.ipv6_peers_check)"')" \
  "shuttlectl --json status: routes6 and peers6 fill, the IPv6 tunnel check on"
table=$(ctl status)
assert_contains "$table" "routes6  2/" "shuttlectl status: routes6 fill"
assert_contains "$table" "peers6  2/" "shuttlectl status: peers6 fill"
pass "shuttlectl routes6, peers6 and status show the IPv6 maps"

# --- peers6 emptied, then changed, by hand: the 5 s repair writes it again ----------------
peers6_map=/sys/fs/bpf/shuttle/v1/maps/peers6
zeros=(00 00 00 00 00 00 00 00 00 00 00 00 00)
key_n2=(fd 77 "${zeros[@]}" 12) key_n3=(fd 77 "${zeros[@]}" 13)
peers6_are() { [[ $(peers6_of_n1) == "$1" ]]; }
drift_lines() { shuttled_log n1 | grep -c "IPv6 overlay drift: map peers6 differs from the peers' IPv6 leases" || true; }
assert_eq 0 "$(drift_lines)" "no peers6 drift logged before the map is touched"
kit_node_exec n1 bpftool map delete pinned "$peers6_map" key hex "${key_n2[@]}"
kit_node_exec n1 bpftool map delete pinned "$peers6_map" key hex "${key_n3[@]}"
wait_until 7 "n1's peers6 written again after it was emptied" peers6_are "$want_peers6"
# (0 entries, or 1 if a round fell between the two deletes)
assert_contains "$(shuttled_log n1)" "IPv6 overlay drift: map peers6 differs from the peers' IPv6 leases (" \
  "shuttled's periodic repair noticed the emptied peers6"
before=$(drift_lines)
# n2's entry with another subnet (fd00:99::/64): IPv6 from n2's pods would be forged-inner-src.
kit_node_exec n1 bpftool map update pinned "$peers6_map" key hex "${key_n2[@]}" \
  value hex fd 00 00 99 "${zeros[@]:1}" 40 00 00 00 00 00 00 00
wait_until 7 "n1's peers6 entry for n2 written again after it was changed" peers6_are "$want_peers6"
assert_contains "$(shuttled_log n1)" \
  "IPv6 overlay drift: map peers6 differs from the peers' IPv6 leases (2 entries, 2 wanted); repairing" \
  "shuttled's periodic repair noticed the changed entry"
assert_eq $((before + 1)) "$(drift_lines)" "one more peers6 drift line"
assert_ok "ping IPv6 c -> a after the peers6 repair" pod_ping6 c "$a6"
pass "a peers6 map emptied or changed by hand is written again within one 5 s round, traffic flows"
for pair in "a b $b $b6" "b a $a $a6" "a c $c $c6" "c a $a $a6" "c d $d $d6" "d c $c $c6"; do
  read -r from to ip4 ip6 <<<"$pair"
  pod_tcp "$from" "$to" "$ip4" 2M || fail "TCP IPv4 $from -> $to"
  pod_tcp "$from" "$to" "$ip6" 2M || fail "TCP IPv6 $from -> $to"
done
pass "TCP (2 MB, iperf3) over both families: same node and across nodes, both ways"
assert_ok "n1 -> pod c (n2) over IPv6" kit_node_exec n1 ping -6 -c 2 -i 0.2 -W 2 "$c6"
pass "the node reaches a remote pod over IPv6"

# --- the wire: IPv6 outer, VNI 1, UDP checksum present and right --------------------------
# Checksums computed in software (no offload on n1's eth0), so the capture sees the final one
# and n2 verifies the outer one in software too. The pods' own veths keep their offload: the
# direct path gets TCP and UDP with the inner checksum not yet filled in (CHECKSUM_PARTIAL).
kit_node_exec n1 ethtool -K eth0 tx off >/dev/null
kit_underlay_exec "$py" "$frames_py" capture6 \
  --iface "k$(kit_run_id)-n1" --src fd77::11 --count 12 --seconds 15 >"$(kit_run_dir)/frames6" &
capture=$!
kit_pod_spawn c "$(kit_run_dir)/udp6-c.log" "$py" "$frames_py" listen --ip "$c6" --port 5555 --seconds 30 --until done
udp_listener=$KIT_LAST_PID
wait_until 10 "UDP listener in c" grep -q listening "$(kit_run_dir)/udp6-c.log"
sent=$(stat_count n1 redirect encap-direct); delivered=$(stat_count n2 redirect decap-direct)
# An echo, a UDP datagram and a TCP handshake (to c's closed port: SYN out, RST back) at a
# time until the capture has its frames (or its end): it starts listening at its own pace.
while kill -0 "$capture" 2>/dev/null; do
  pod_ping6 a "$c6" 1 >/dev/null || sleep 0.2
  kit_pod_exec a "$py" "$frames_py" udp --to "$c6" --payload v6-direct
  kit_pod_exec a "$py" -c "import socket; s = socket.socket(socket.AF_INET6); s.settimeout(2)
try: s.connect(('$c6', 5556))
except OSError: pass"
done
wait "$capture" || fail "capture of IPv6 VXLAN frames failed"
kit_pod_exec a "$py" "$frames_py" udp --to "$c6" --payload done
wait "$udp_listener" || true
frames=$(cat "$(kit_run_dir)/frames6")
assert_eq 12 "$(grep -c . <<<"$frames")" "twelve IPv6 VXLAN frames from n1 captured"
assert_not_contains "$frames" "csum=zero" "no zero UDP checksum"
assert_not_contains "$frames" "csum=bad" "no wrong UDP checksum"
assert_not_contains "$frames" "inner_csum=bad" "no wrong inner checksum"
assert_contains "$frames" "dst=fd77::12 dport=8472 vni=1 csum=ok inner_dst=$mac_n2" "outer to n2's PublicIPv6, 8472, VNI 1, inner MAC n2's VtepMAC"
for proto in icmpv6 udp tcp; do
  assert_contains "$frames" "csum=ok inner_dst=$mac_n2 inner=$proto inner_csum=ok" "a $proto frame with both checksums right"
done
(($(stat_count n1 redirect encap-direct) >= sent + 12)) || fail "the captured frames did not come from the direct path"
(($(stat_count n2 redirect decap-direct) >= delivered + 12)) || fail "n2's from_underlay did not take them"
assert_contains "$(cat "$(kit_run_dir)/udp6-c.log")" "v6-direct" "c got the UDP (inner checksum verified by its stack)"
kit_node_exec n1 ethtool -K eth0 tx on >/dev/null
pass "on the wire (direct path): IPv6 outer to 8472, VNI 1, correct outer and inner checksums for ICMPv6, UDP and TCP"

# --- a lost lease takes its IPv6 route and neighbour away -----------------------------------
kit_stop "${SHUTTLED_PID[n3]}"
key=$(kit_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | grep -F "&${SUB6[n3]}-64")
kit_etcdctl del "$key" >/dev/null
wait_until 15 "n1's IPv6 route to n3 removed" \
  sh -c "! nsenter --net=/run/netns/$(kit_node_netns n1) ip -6 route show dev shuttle.1 | grep -q '^${SUB6[n3]}/64'"
assert_eq "" "$(kit_node_exec n1 ip -6 neigh show dev shuttle.1 "${SUB6[n3]}")" "n1's neighbour for n3 removed"
assert_ok "n1 keeps its route to n2" pod_ping6 a "$c6"
pass "a lost lease takes its IPv6 route and neighbour away; the others stay"

# --- uninstall: the device (and its routes) gone; IPv6 pods of the node keep talking --------
kit_stop "${SHUTTLED_PID[n1]}"
kit_node_exec n1 "$bin/shuttlectl" uninstall >/dev/null
assert_fails "shuttle.1 gone" kit_node_exec n1 ip link show shuttle.1
assert_eq "" "$(kit_node_exec n1 ip -6 route show "${SUB6[n2]}/64")" "no IPv6 route to n2 left"
assert_ok "IPv6 a -> b after uninstall" pod_ping6 a "$b6"
assert_ok "IPv6 b -> a after uninstall" pod_ping6 b "$a6"
pod_tcp a b "$b6" 2M || fail "TCP IPv6 a -> b after uninstall"
assert_ok "n1 -> pod a over IPv6 after uninstall" kit_node_exec n1 ping -6 -c 1 -W 2 "$a6"
pass "after uninstall IPv6 pods keep plain host routing within the node"
