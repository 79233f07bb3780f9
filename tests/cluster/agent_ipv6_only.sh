#!/usr/bin/env bash
# An IPv6-only network (flannel's EnableIPv4:false) on the kit's dual-stack underlay, real
# etcd, 2 nodes: leases without IPv4 (key 0.0.0.0-0&<v6>-64, no BackendData), shuttle.1 with
# PublicIPv6 as its local address and no IPv4, one IPv6 route per peer; an up flannel-v6.1
# holding the port is named in /readyz; IPv6-only pods ping and move TCP both ways within a
# node and across nodes; the overlay programs on shuttle.1 refuse forged IPv6 VXLAN (unknown-node,
# forged-inner-src, wrong-vni) and are re-attached by the repair and a restart; uninstall
# leaves no program.
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

# --- The overlay programs on the IPv6-only device: from_overlay checks IPv6 tunnel packets by
# peers6 as on dual-stack (node_config holds the device, VNI and MAC, no IPv4 subnet).
status=$(kit_node_exec n1 "$bin/shuttlectl" --json status)
assert_eq "shuttle.1 true true" "$(jq -r '"\(.overlay.ifname) \(.overlay.attached) \(.ipv6_peers_check)"' <<<"$status")" \
  "n1: overlay programs on shuttle.1, IPv6 tunnel check on"
assert_contains "$(readyz n1)" "IPv6 only) with overlay programs" "/readyz names the programs"
# IPv6 across nodes through the programs: c's echoes decapsulated into a, a's replies sent by
# from_pod's IPv6 device path (routes6).
decap=$(stat_count n1 redirect decap)
remote=$(stat_count n1 redirect remote)
assert_ok "IPv6 ping c -> a through the programs" pod_ping6 c "$a" 5
((($(stat_count n1 redirect decap) - decap) >= 5)) || fail "n1's redirect/decap moved by < 5: $decap -> $(stat_count n1 redirect decap)"
((($(stat_count n1 redirect remote) - remote) >= 5)) || fail "n1's redirect/remote moved by < 5: $remote -> $(stat_count n1 redirect remote)"
echo "n1: redirect/decap $decap -> $(stat_count n1 redirect decap), redirect/remote $remote -> $(stat_count n1 redirect remote)"
# Forged IPv6 VXLAN datagrams for pod a (UDP 5555), as agent_forged_vxlan.sh sends them.
kit_underlay_host forger "$KIT_UNDERLAY_NET.99" "${KIT_UNDERLAY_NET6}:99"
n1_ip6=$(kit_node_ip6 n1)
vtep1=$(kit_node_exec n1 cat /sys/class/net/shuttle.1/address)
send6() {  # <node|pod> <where> <payload> [vxlan_frames.py send options...]
  local kind=$1 where=$2 payload=$3
  shift 3
  local run=(kit_node_exec "$where")
  [[ $kind == node ]] || run=(kit_pod_exec "$where")
  "${run[@]}" "$py" "$frames_py" send --to "$n1_ip6" --inner-dst-mac "$vtep1" \
    --inner-dst "$a" --payload "$payload" "$@" || fail "sending $payload failed"
}
reasons=(unknown-node forged-inner-src wrong-vni)
declare -A before
for r in "${reasons[@]}"; do before[$r]=$(stat_count n1 drop "$r"); done
listen_log=$(kit_run_dir)/listen-ipv6-only.log
kit_pod_spawn a "$listen_log" "$py" "$frames_py" listen --ip "$a" --seconds 30 --until valid-ipv6-only
listener=$KIT_LAST_PID
wait_until 10 "listener up" grep -q listening "$listen_log"
send6 pod forger "forged6-unknown-node" --inner-src "${s2}77"
send6 node n2 "forged6-inner-src" --inner-src "${s1}200"
send6 node n2 "forged6-vni" --inner-src "${s2}77" --vni 2
send6 node n2 "valid-ipv6-only" --inner-src "${s2}77"
wait "$listener" || true
assert_eq "listening
valid-ipv6-only" "$(cat "$listen_log")" "pod a received the control datagram and nothing forged"
moved() { local r; for r in "${reasons[@]}"; do (($(stat_count n1 drop "$r") > before[$r])) || return 1; done; }
wait_until 10 "every refusal counted" moved
for r in "${reasons[@]}"; do echo "IPv6-only: drop $r ${before[$r]} -> $(stat_count n1 drop "$r")"; done
pass "IPv6-only: forged IPv6 VXLAN refused (unknown-node, forged-inner-src, wrong-vni), the control delivered, pods talk through the programs"

# Repair and restart re-attach the programs, as on dual-stack.
detach_overlay() { kit_node_exec n1 sh -c 'rm -f /sys/fs/bpf/shuttle/v1/links/overlay-*/shuttle-1; tc filter del dev shuttle.1 ingress 2>/dev/null; tc filter del dev shuttle.1 egress 2>/dev/null; true'; }
overlay_attached() { kit_node_exec n1 "$bin/shuttlectl" --json status | jq -e '.overlay.attached'; }
detach_overlay
wait_until 12 "n1 re-attaches its overlay programs" overlay_attached
assert_contains "$(shuttled_log n1)" "datapath drift: overlay programs not attached" "n1 logged the repair"
kit_stop "${SHUTTLED_PID[n1]}"
detach_overlay
assert_fails "programs gone while shuttled is stopped" overlay_attached
start_shuttled n1
wait_ready n1
assert_ok "restart re-attached the programs" overlay_attached
assert_ok "IPv6 ping c -> a after the restart" pod_ping6 c "$a"
pass "IPv6-only: overlay programs re-attached by the repair and by a restart"

kit_stop "${SHUTTLED_PID[n1]}"
kit_node_exec n1 "$bin/shuttlectl" uninstall >/dev/null || fail "shuttlectl uninstall failed"
assert_fails "uninstall: shuttle.1 gone" kit_node_exec n1 ip link show shuttle.1
assert_eq "" "$(kit_node_exec n1 sh -c 'find /sys/fs/bpf/shuttle -mindepth 1 -not -type d 2>/dev/null')" "uninstall: no pins (so no TCX link) left"
assert_not_contains "$(kit_node_exec n1 tc filter show dev eth0 ingress)" "bpf" "uninstall: no tc filter on eth0"
pass "IPv6-only: uninstall leaves no program"
