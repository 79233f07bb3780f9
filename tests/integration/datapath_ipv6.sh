#!/usr/bin/env bash
# The IPv6 datapath behind the real plugin: dual-stack pods of one node ping and move TCP over
# IPv6 with forwarding off in the node (IPv4 and IPv6), so only the programs carry them (NS
# answered in from_pod, bpf_redirect_peer); the counters move; a pod sending from an IPv6
# address it does not hold is dropped and counted; shuttlectl shows the IPv6 endpoints; DEL
# clears them.
source "$(dirname "$0")/plugin_lib.bash"

c=$(conf 1.0.0 '.ipam.ranges += [[{subnet: "fd00:99:1::/64"}]] | .ipam.routes += [{dst: "fd00:99::/48"}]')
pod() { ip netns exec "$RUN-$1" "${@:2}"; }
ctl() { nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" --json "$@"; }
counter() { ctl stats | jq --arg v "$1" --arg r "$2" '[.[] | select(.verdict == $v and .reason == $r) | .packets] | add // 0'; }

for k in 1 2; do cni_ok ADD "v6-$k" eth0 "$(new_pod "v6$k")" "$c"; done
node sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0

endpoints=$(ctl endpoints)
json_eq "$(echo "$endpoints" | jq -c '[.[] | .ip6] | sort')" '["fd00:99:1::2","fd00:99:1::3"]'
json_eq "$(ctl config | jq -c '[.node_subnet6, .gateway6, .cluster_network6]')" \
    '["fd00:99:1::/64","fd00:99:1::1","fd00:99:1::/64"]'
pass "shuttlectl shows the IPv6 endpoints and config"

local0=$(counter redirect local) na0=$(counter redirect na-reply)
pod v61 ping -6 -c 3 -i 0.2 -W 2 fd00:99:1::3 >/dev/null || fail "IPv6 ping v61 -> v62 with forwarding off"
pod v62 ping -6 -c 3 -i 0.2 -W 2 fd00:99:1::2 >/dev/null || fail "IPv6 ping v62 -> v61 with forwarding off"
local1=$(counter redirect local) na1=$(counter redirect na-reply)
[ $((local1 - local0)) -ge 12 ] || fail "redirect local rose by $((local1 - local0)), want >= 12"
[ $((na1 - na0)) -ge 1 ] || fail "no NS was answered in the program (na-reply $na0 -> $na1)"
pod v61 ip -6 neigh show fd00:99:1::1 dev eth0 | contains "lladdr $(ip -n "$NODE" -j link show "$(ctl endpoints | jq -r '.[] | select(.ip6 == "fd00:99:1::2") | .host_ifname')" | jq -r '.[0].address')" ||
    fail "the pod's gateway neighbour is not its host veth: $(pod v61 ip -6 neigh)"
pass "IPv6 ping both ways through the programs (local +$((local1 - local0)), na-reply +$((na1 - na0)))"

pod v62 timeout 15 iperf3 -s -1 -B fd00:99:1::3 >/dev/null &
server=$!
for _ in $(seq 50); do pod v62 ss -ltn | grep -q ':5201' && break; sleep 0.1; done
local0=$(counter redirect local)
pod v61 timeout 15 iperf3 -c fd00:99:1::3 -t 1 -J >"$WORK/iperf6.json" || fail "IPv6 TCP v61 -> v62"
wait "$server" || true
bytes=$(jq '.end.sum_received.bytes' "$WORK/iperf6.json")
[ "$bytes" -ge 1000000 ] || fail "IPv6 TCP moved $bytes bytes"
local1=$(counter redirect local)
[ $((local1 - local0)) -ge 100 ] || fail "TCP took $((local1 - local0)) redirects, want >= 100"
pass "IPv6 TCP v61 -> v62 ($bytes bytes, redirect local +$((local1 - local0)))"

# A source address the pod does not hold: dropped at its veth and counted.
pod v61 ip -6 addr add fd00:99:1::99/128 dev eth0 nodad
spoofed0=$(counter drop spoofed-ip)
pod v61 ping -6 -c 2 -i 0.2 -W 1 -I fd00:99:1::99 fd00:99:1::3 >/dev/null && fail "a spoofed IPv6 source got an answer"
spoofed1=$(counter drop spoofed-ip)
[ $((spoofed1 - spoofed0)) -ge 2 ] || fail "spoofed-ip rose by $((spoofed1 - spoofed0)), want >= 2"
pod v61 ip -6 addr del fd00:99:1::99/128 dev eth0
pod v61 ping -6 -c 1 -W 2 fd00:99:1::3 >/dev/null || fail "the pod's own address no longer works"
pass "a spoofed IPv6 source is dropped and counted (+$((spoofed1 - spoofed0)))"

for k in 1 2; do cni_ok DEL "v6-$k" eth0 "/run/netns/$RUN-v6$k" "$c"; done
[ "$(ctl endpoints | jq length)" = 0 ] || fail "endpoints left after DEL"
for slot in 2 3; do # fd00:99:1::2 and ::3 sit in endpoints6's slots 2 and 3
    ifindex=$(bpftool -j map lookup pinned "$BPFFS/shuttle/v1/maps/endpoints6" key "$slot" 0 0 0 |
        jq '[.. | .ifindex? // empty] | first')
    [ "$ifindex" = 0 ] || fail "endpoints6 slot $slot still names ifindex $ifindex after DEL"
done
expect_clean_node
pass "DEL clears the IPv6 endpoints"
