#!/usr/bin/env bash
# Dual-stack and IPv6-only networks through the shuttle plugin: the result per cniVersion with
# both families, the kernel state behind it (no DAD wait, IPv6 on the host end only where the
# network has an IPv6 range), requested IPv6 addresses, pods of one node pinging each other and
# the node over both families through the plugin's host routing, CHECK, DEL and GC.
source "$(dirname "$0")/plugin_lib.bash"

V6_RANGE='{subnet: "fd00:99:1::/64"}'
# dual VERSION [extra jq filter] -> the test network with an IPv6 range set beside the IPv4 one
dual() { conf "$1" ".ipam.ranges += [[$V6_RANGE]] | .ipam.routes += [{dst: \"fd00:99::/48\"}] | ${2:-.}"; }
v6_only() { conf "$1" ".ipam.ranges = [[$V6_RANGE]] | .ipam.routes = [{dst: \"fd00:99::/48\"}] | ${2:-.}"; }
pod() { ip netns exec "$RUN-$1" "${@:2}"; }
count_host_routes6() { ip -n "$NODE" -6 route show | grep -c 'dev sh' || true; }

# --- ADD at every version: both families in the result and in the kernel ------------------------
i=0
for v in 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
    i=$((i + 1))
    ns=$(new_pod "d$i")
    c=$(dual "$v")
    cni_ok ADD "dual-$i" eth0 "$ns" "$c"
    result=$OUT
    host=$(echo "$result" | jq -r '.interfaces[0].name')
    a4=10.99.1.$((i + 1))/24 a6=fd00:99:1::$((i + 1))/64
    case $v in
    0.*) want_ips="[{\"version\":\"4\",\"address\":\"$a4\",\"gateway\":\"10.99.1.1\",\"interface\":1},{\"version\":\"6\",\"address\":\"$a6\",\"gateway\":\"fd00:99:1::1\",\"interface\":1}]" ;;
    *) want_ips="[{\"address\":\"$a4\",\"gateway\":\"10.99.1.1\",\"interface\":1},{\"address\":\"$a6\",\"gateway\":\"fd00:99:1::1\",\"interface\":1}]" ;;
    esac
    json_eq "$(echo "$result" | jq -c .ips)" "$want_ips"
    json_eq "$(echo "$result" | jq -c .routes)" \
        '[{"dst":"0.0.0.0/0","gw":"10.99.1.1"},{"dst":"::/0","gw":"fd00:99:1::1"},{"dst":"10.99.0.0/16"},{"dst":"fd00:99::/48"}]'
    # the pod: its IPv6 address usable at once (nodad, no tentative state), no on-link prefix,
    # the default route and the IPAM route via the gateway
    pod "d$i" ip -6 addr show dev eth0 scope global | contains "inet6 $a6 scope global nodad noprefixroute" ||
        fail "pod IPv6 address: $(pod "d$i" ip -6 addr show dev eth0)"
    pod "d$i" ip -6 addr show dev eth0 | grep -q tentative && fail "tentative address in the pod"
    pod "d$i" ip -6 route show default | contains "default via fd00:99:1::1 dev eth0" || fail "pod ::/0"
    pod "d$i" ip -6 route show fd00:99::/48 | contains "via fd00:99:1::1 dev eth0" || fail "pod IPv6 ipam route"
    [ -z "$(pod "d$i" ip -6 route show fd00:99:1::/64)" ] || fail "on-link prefix route in the pod"
    [ "$(pod "d$i" cat /proc/sys/net/ipv6/conf/eth0/accept_dad)" = 0 ] || fail "pod accept_dad"
    # the host end: IPv6 on, gateway /128 without DAD, /128 route, forwarding
    [ "$(node cat /proc/sys/net/ipv6/conf/"$host"/disable_ipv6)" = 0 ] || fail "IPv6 off on a dual-stack host end"
    [ "$(node cat /proc/sys/net/ipv6/conf/"$host"/accept_dad)" = 0 ] || fail "host accept_dad"
    ip -n "$NODE" -6 addr show dev "$host" | contains "inet6 fd00:99:1::1/128 scope global nodad" || fail "gateway /128"
    ip -n "$NODE" -6 route show "${a6%/*}" | contains "dev $host" || fail "host /128 route"
    [ "$(node cat /proc/sys/net/ipv6/conf/all/forwarding)" = 1 ] || fail "IPv6 forwarding"
    [ "$(cat "$(store_dir)/${a6%/*}")" = "$(printf 'dual-%s\r\neth0' "$i")" ] || fail "IPv6 store file"
    [ "$(cat "$(store_dir)/last_reserved_ip.1")" = "${a6%/*}" ] || fail "last_reserved_ip.1"
    if [ "$v" != 0.3.0 ] && [ "$v" != 0.3.1 ]; then
        cni_ok CHECK "dual-$i" eth0 "$ns" "$(echo "$c" | jq -c --argjson r "$result" '. + {prevResult: $r}')"
    fi
    pass "dual-stack ADD result and state at $v"
done

# --- pods of one node talk over both families, and with the node --------------------------------
pod d1 ping -c1 -W2 10.99.1.3 >/dev/null || fail "IPv4 ping d1 -> d2"
pod d1 ping -6 -c1 -W2 fd00:99:1::3 >/dev/null || fail "IPv6 ping d1 -> d2"
pod d3 ping -6 -c1 -W2 fd00:99:1::2 >/dev/null || fail "IPv6 ping d3 -> d1"
pod d2 ping -6 -c1 -W2 fd00:99:1::1 >/dev/null || fail "IPv6 ping pod -> gateway"
node ping -6 -c1 -W2 fd00:99:1::4 >/dev/null || fail "IPv6 ping node -> pod"
pod d5 timeout 10 iperf3 -s -1 -B fd00:99:1::6 >/dev/null &
listener=$!
for _ in $(seq 50); do pod d5 ss -Htln | grep -q 5201 && break; sleep 0.1; done
pod d1 timeout 10 iperf3 -c fd00:99:1::6 -t 1 -J >"$WORK/iperf6.json" || fail "IPv6 TCP d1 -> d5"
wait "$listener" || true
[ "$(jq '.end.sum_received.bytes' "$WORK/iperf6.json")" -ge 1000000 ] || fail "IPv6 TCP moved too little: $(jq -c .end.sum_received "$WORK/iperf6.json")"
pass "pods ping each other and the node over IPv4 and IPv6, IPv6 TCP"

# --- CHECK names IPv6 drift --------------------------------------------------------------------
c=$(dual 1.1.0)
cni_ok ADD drift6 eth0 "$(new_pod drift6)" "$c"
prev=$OUT
host=$(echo "$prev" | jq -r '.interfaces[0].name')
a6=$(echo "$prev" | jq -r '.ips[1].address')
ip -n "$NODE" -6 route del "${a6%/*}"
ip -n "$NODE" -6 addr del fd00:99:1::1/128 dev "$host"
pod drift6 ip -6 route del default
cni CHECK drift6 eth0 "/run/netns/$RUN-drift6" "$(echo "$c" | jq -c --argjson r "$prev" '. + {prevResult: $r}')"
expect_error "{\"cniVersion\":\"1.1.0\",\"code\":106,\"msg\":\"check failed\",\"details\":\"route ::/0 via fd00:99:1::1 is missing in the container; host route ${a6%/*}/128 dev $host is missing; host interface $host lacks fd00:99:1::1/128\"}"
cni_ok DEL drift6 eth0 "/run/netns/$RUN-drift6" "$c"
pass "CHECK reports IPv6 drift"

# --- requested IPv6 addresses: runtimeConfig.ips, args.cni.ips, CNI_ARGS IP= ---------------------
cni_ok ADD req6-1 eth0 "$(new_pod r1)" "$(dual 1.1.0 '.runtimeConfig = {ips: ["fd00:99:1::77/64", "10.99.1.77/24"]}')"
[ "$(echo "$OUT" | jq -c '[.ips[].address]')" = '["10.99.1.77/24","fd00:99:1::77/64"]' ] || fail "runtimeConfig.ips: $OUT"
cni_ok ADD req6-2 eth0 "$(new_pod r2)" "$(dual 1.1.0 '.args = {cni: {ips: ["fd00:99:1::88"]}}')"
[ "$(echo "$OUT" | jq -r '.ips[1].address')" = fd00:99:1::88/64 ] || fail "args.cni.ips: $OUT"
cni_ok ADD req6-3 eth0 "$(new_pod r3)" "$(dual 1.1.0)" "IgnoreUnknown=1;IP=10.99.1.99,fd00:99:1::99"
[ "$(echo "$OUT" | jq -c '[.ips[].address]')" = '["10.99.1.99/24","fd00:99:1::99/64"]' ] || fail "CNI_ARGS IP=: $OUT"
pod r1 ping -6 -c1 -W2 fd00:99:1::99 >/dev/null || fail "IPv6 ping between requested addresses"
for k in 1 2 3; do cni_ok DEL "req6-$k" eth0 "/run/netns/$RUN-r$k" "$(dual 1.1.0)"; done
pass "requested IPv6 addresses (runtimeConfig.ips, args.cni.ips, CNI_ARGS IP=)"

# --- IPv6-only: the datapath's programs on the host end too (keyed by the IPv6 address) ----------
# (the same store as above: ::2-::6 are still held by dual-1..5)
c=$(v6_only 1.0.0)
cni_ok ADD six-1 eth0 "$(new_pod s1)" "$c"
six1=$OUT
json_eq "$(echo "$OUT" | jq -c '[.ips, .routes]')" \
    '[[{"address":"fd00:99:1::7/64","gateway":"fd00:99:1::1","interface":1}],[{"dst":"::/0","gw":"fd00:99:1::1"},{"dst":"fd00:99::/48"}]]'
host=$(echo "$OUT" | jq -r '.interfaces[0].name')
[ -z "$(ip -n "$NODE" -4 addr show dev "$host")" ] || fail "IPv4 address on an IPv6-only host end"
tc -n "$NODE" filter show dev "$host" ingress | grep -q from_pod || fail "no datapath on an IPv6-only pod's host end"
cni_ok ADD six-2 eth0 "$(new_pod s2)" "$c"
pod s1 ping -6 -c1 -W2 fd00:99:1::8 >/dev/null || fail "IPv6-only ping"
cni_ok CHECK six-1 eth0 "/run/netns/$RUN-s1" "$(echo "$c" | jq -c --argjson r "$six1" '. + {prevResult: $r}')"
for k in 1 2; do cni_ok DEL "six-$k" eth0 "/run/netns/$RUN-s$k" "$c"; done
pass "IPv6-only network: addresses, routes, the datapath attached"

# --- an IPv4-only network keeps IPv6 off on its host ends -----------------------------------------
cni_ok ADD four-1 eth0 "$(new_pod f1)" "$(conf 1.1.0)"
host=$(echo "$OUT" | jq -r '.interfaces[0].name')
[ "$(node cat /proc/sys/net/ipv6/conf/"$host"/disable_ipv6)" = 1 ] || fail "IPv6 on on an IPv4-only host end"
cni_ok DEL four-1 eth0 "/run/netns/$RUN-f1" "$(conf 1.1.0)"
pass "IPv4-only host ends keep disable_ipv6=1"

# --- DEL and GC clean both families -------------------------------------------------------------
c=$(dual 1.1.0)
cni_ok GC "" "" "" "$(echo "$c" | jq -c '. + {"cni.dev/valid-attachments": [{containerID:"dual-1",ifname:"eth0"},{containerID:"dual-2",ifname:"eth0"}]}')"
[ "$(count_reservations)" = 4 ] || fail "GC left $(ls "$(store_dir)")"
for k in 1 2; do cni_ok DEL "dual-$k" eth0 "/run/netns/$RUN-d$k" "$c"; done
cni_ok DEL "dual-1" eth0 "/run/netns/$RUN-d1" "$c"
expect_clean_node
[ "$(count_host_routes6)" = 0 ] || fail "IPv6 host routes left: $(ip -n "$NODE" -6 route)"
pass "DEL and GC leave no address, route, veth or record of either family"
