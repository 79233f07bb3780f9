#!/usr/bin/env bash
# IPv6-only pods (an IPv6-only network: no IPv4 range) behind the real plugin get the
# programs: with forwarding off in the node (IPv4 and IPv6) they ping and move TCP only
# through from_pod (NS answered there, bpf_redirect_peer); the counters move; a source address
# the pod does not hold and IPv4 it sends are dropped and counted; shuttlectl shows them;
# CHECK sees a detached program; GC and DEL take programs and entries away.
source "$(dirname "$0")/plugin_lib.bash"

c=$(conf 1.1.0 '.ipam.ranges = [[{subnet: "fd00:99:1::/64"}]] | .ipam.routes = [{dst: "fd00:99::/48"}]')
pod() { ip netns exec "$RUN-$1" "${@:2}"; }
ctl() { nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" --json "$@"; }
counter() { ctl stats | jq --arg v "$1" --arg r "$2" '[.[] | select(.verdict == $v and .reason == $r) | .packets] | add // 0'; }
meta6_entries() { bpftool -j map dump pinned "$BPFFS/shuttle/v1/maps/endpoint_meta6" | jq length; }

for k in 1 2 3; do cni_ok ADD "v6o-$k" eth0 "$(new_pod "o$k")" "$c"; done
node sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0

json_eq "$(ctl endpoints | jq -c '[.[] | [.ip, .ip6]] | sort')" \
    '[[null,"fd00:99:1::2"],[null,"fd00:99:1::3"],[null,"fd00:99:1::4"]]'
json_eq "$(ctl status | jq -c '[.attachments[] | [.pod_ip, .attached]] | sort')" \
    '[["fd00:99:1::2",true],["fd00:99:1::3",true],["fd00:99:1::4",true]]'
[ "$(ctl config | jq .node_subnet)" = null ] ||
    fail "an IPv6-only ADD wrote the IPv4 node config: $(ctl config)"
pass "shuttlectl shows the IPv6-only pods, attached, and no IPv4 config"

local0=$(counter redirect local) na0=$(counter redirect na-reply)
pod o1 ping -6 -c 3 -i 0.2 -W 2 fd00:99:1::3 >/dev/null || fail "IPv6 ping o1 -> o2 with forwarding off"
pod o2 ping -6 -c 3 -i 0.2 -W 2 fd00:99:1::2 >/dev/null || fail "IPv6 ping o2 -> o1 with forwarding off"
local1=$(counter redirect local) na1=$(counter redirect na-reply)
[ $((local1 - local0)) -ge 12 ] || fail "redirect local rose by $((local1 - local0)), want >= 12"
[ $((na1 - na0)) -ge 1 ] || fail "no NS was answered in the program (na-reply $na0 -> $na1)"
pass "IPv6-only ping both ways through the programs (local +$((local1 - local0)), na-reply +$((na1 - na0)))"

pod o2 timeout 15 iperf3 -s -1 -B fd00:99:1::3 >/dev/null &
server=$!
for _ in $(seq 50); do pod o2 ss -ltn | grep -q ':5201' && break; sleep 0.1; done
local0=$(counter redirect local)
pod o1 timeout 15 iperf3 -c fd00:99:1::3 -t 1 -J >"$WORK/iperf6.json" || fail "IPv6 TCP o1 -> o2"
wait "$server" || true
bytes=$(jq '.end.sum_received.bytes' "$WORK/iperf6.json")
[ "$bytes" -ge 1000000 ] || fail "IPv6 TCP moved $bytes bytes"
local1=$(counter redirect local)
[ $((local1 - local0)) -ge 100 ] || fail "TCP took $((local1 - local0)) redirects, want >= 100"
pass "IPv6-only TCP o1 -> o2 ($bytes bytes, redirect local +$((local1 - local0)))"

pod o1 ip -6 addr add fd00:99:1::99/128 dev eth0 nodad
spoofed0=$(counter drop spoofed-ip)
pod o1 ping -6 -c 2 -i 0.2 -W 1 -I fd00:99:1::99 fd00:99:1::3 >/dev/null && fail "a spoofed IPv6 source got an answer"
spoofed1=$(counter drop spoofed-ip)
[ $((spoofed1 - spoofed0)) -ge 2 ] || fail "spoofed-ip rose by $((spoofed1 - spoofed0)), want >= 2"
pod o1 ip -6 addr del fd00:99:1::99/128 dev eth0
# IPv4 from an IPv6-only pod: no node_config on this node, so no-config (never passed).
pod o1 ip addr add 10.99.9.9/24 dev eth0
pod o1 ip neigh replace 10.99.9.1 lladdr 02:00:00:00:00:01 dev eth0 nud permanent # no ARP first
noconf0=$(counter drop no-config)
pod o1 ping -c 2 -i 0.2 -W 1 10.99.9.1 >/dev/null && fail "IPv4 from an IPv6-only pod got an answer"
noconf1=$(counter drop no-config)
[ $((noconf1 - noconf0)) -ge 2 ] || fail "no-config rose by $((noconf1 - noconf0)), want >= 2"
pod o1 ip addr del 10.99.9.9/24 dev eth0
pass "a spoofed IPv6 source (spoofed-ip +$((spoofed1 - spoofed0))) and IPv4 (no-config +$((noconf1 - noconf0))) are dropped"

# CHECK: the datapath's drift of an IPv6-only pod (its program detached behind shuttle's back).
cni_ok ADD v6o-chk eth0 "$(new_pod ochk)" "$c"
prev=$OUT
host=$(echo "$prev" | jq -r '.interfaces[0].name')
withprev=$(echo "$c" | jq -c --argjson r "$prev" '. + {prevResult: $r}')
cni_ok CHECK v6o-chk eth0 "/run/netns/$RUN-ochk" "$withprev"
node tc filter del dev "$host" ingress
cni CHECK v6o-chk eth0 "/run/netns/$RUN-ochk" "$withprev"
[ "$(echo "$OUT" | jq .code)" = 106 ] && echo "$OUT" | jq -r .details | contains "datapath: from_pod on $host" ||
    fail "CHECK missed the detached program of an IPv6-only pod: $OUT"
pass "CHECK reports an IPv6-only pod's detached program"

# GC of the invalid ones, then DEL of the rest: entries, names and programs go.
cni_ok GC "" "" "" "$(echo "$c" | jq -c '. + {"cni.dev/valid-attachments": [{containerID:"v6o-1",ifname:"eth0"},{containerID:"v6o-2",ifname:"eth0"}]}')"
json_eq "$(ctl endpoints | jq -c '[.[] | .ip6] | sort')" '["fd00:99:1::2","fd00:99:1::3"]'
for k in 1 2; do cni_ok DEL "v6o-$k" eth0 "/run/netns/$RUN-o$k" "$c"; done
[ "$(ctl endpoints | jq length)" = 0 ] || fail "endpoints left after DEL: $(ctl endpoints)"
[ "$(ctl status | jq '.attachments | length')" = 0 ] || fail "attachments left: $(ctl status)"
[ "$(meta6_entries)" = 0 ] || fail "endpoint_meta6 entries left after DEL"
for slot in 2 3 4 5; do
    ifindex=$(bpftool -j map lookup pinned "$BPFFS/shuttle/v1/maps/endpoints6" key "$slot" 0 0 0 |
        jq '[.. | .ifindex? // empty] | first')
    [ "$ifindex" = 0 ] || fail "endpoints6 slot $slot still names ifindex $ifindex after GC/DEL"
done
expect_clean_node
pass "GC and DEL clear the IPv6-only pods"
