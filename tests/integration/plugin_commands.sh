#!/usr/bin/env bash
# Every command of the shuttle plugin through env + stdin, and the result shape per cniVersion.
source "$(dirname "$0")/plugin_lib.bash"

# --- VERSION ---------------------------------------------------------------------------
cni VERSION "" "" "" '{"cniVersion":"1.1.0"}'
[ "$RC" = 0 ] || fail "VERSION rc=$RC"
json_eq "$OUT" '{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}'
pass VERSION

# --- ADD / CHECK / DEL in every version -------------------------------------------------
# expected_result VERSION NETNS HOSTNAME HOSTMAC PODMAC ADDRESS
expected_result() {
    local v=$1 ns=$2 host=$3 hmac=$4 pmac=$5 addr=$6
    case $v in
    1.1.0) jq -cn --arg v "$v" --arg ns "$ns" --arg h "$host" --arg hm "$hmac" --arg pm "$pmac" --arg a "$addr" \
        '{cniVersion:$v, interfaces:[{name:$h,mac:$hm,mtu:1400},{name:"eth0",mac:$pm,mtu:1400,sandbox:$ns}],
          ips:[{address:$a,gateway:"10.99.1.1",interface:1}],
          routes:[{dst:"0.0.0.0/0",gw:"10.99.1.1"},{dst:"10.99.0.0/16"}], dns:{}}' ;;
    1.0.0) jq -cn --arg v "$v" --arg ns "$ns" --arg h "$host" --arg hm "$hmac" --arg pm "$pmac" --arg a "$addr" \
        '{cniVersion:$v, interfaces:[{name:$h,mac:$hm},{name:"eth0",mac:$pm,sandbox:$ns}],
          ips:[{address:$a,gateway:"10.99.1.1",interface:1}],
          routes:[{dst:"0.0.0.0/0",gw:"10.99.1.1"},{dst:"10.99.0.0/16"}], dns:{}}' ;;
    *) jq -cn --arg v "$v" --arg ns "$ns" --arg h "$host" --arg hm "$hmac" --arg pm "$pmac" --arg a "$addr" \
        '{cniVersion:$v, interfaces:[{name:$h,mac:$hm},{name:"eth0",mac:$pm,sandbox:$ns}],
          ips:[{version:"4",address:$a,gateway:"10.99.1.1",interface:1}],
          routes:[{dst:"0.0.0.0/0",gw:"10.99.1.1"},{dst:"10.99.0.0/16"}], dns:{}}' ;;
    esac
}

i=0
for v in 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
    i=$((i + 1))
    ns=$(new_pod "v$i")
    c=$(conf "$v")
    cni_ok ADD "ctr-$i" eth0 "$ns" "$c" "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-$i"
    result=$OUT
    host=$(echo "$result" | jq -r '.interfaces[0].name')
    [[ $host =~ ^sh[0-9a-f]{13}$ ]] || fail "host veth name $host"
    hmac=$(ip -n "$NODE" -j link show "$host" | jq -r '.[0].address')
    pmac=$(ip -n "${ns##*/}" -j link show eth0 | jq -r '.[0].address')
    addr=10.99.1.$((i + 1))/24
    json_eq "$result" "$(expected_result "$v" "$ns" "$host" "$hmac" "$pmac" "$addr")"
    # the kernel state behind the result
    ip -n "${ns##*/}" -4 addr show eth0 | contains "inet $addr" || fail "pod address"
    ip -n "${ns##*/}" route show default | contains "via 10.99.1.1 dev eth0" || fail "pod default route"
    ip -n "${ns##*/}" route show 10.99.0.0/16 | contains "via 10.99.1.1" || fail "pod ipam route"
    [ "$(ip -n "${ns##*/}" -j link show eth0 | jq '.[0].mtu')" = 1400 ] || fail "pod mtu"
    ip -n "$NODE" -4 addr show "$host" | contains "inet 10.99.1.1/32" || fail "gateway /32 on host veth"
    ip -n "$NODE" route show "${addr%/*}" | contains "dev $host scope link" || fail "host route"
    [ "$(node cat /proc/sys/net/ipv4/conf/"$host"/proxy_arp)" = 1 ] || fail "proxy_arp"
    [ "$(node cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "ip_forward"
    [ "$(node cat /proc/sys/net/ipv4/neigh/"$host"/proxy_delay)" = 0 ] || fail "proxy_delay"
    # the datapath call site: from_pod is attached to the host veth (attach auto = tc here)
    tc -n "$NODE" filter show dev "$host" ingress | contains "from_pod" || fail "from_pod not attached to $host"
    [ -z "$(ip -n "$NODE" -j link show "$host" | jq -r '.[0].master // empty')" ] || fail "enslaved"
    # host-local's store and the attachment record
    [ "$(cat "$(store_dir)/${addr%/*}")" = "$(printf 'ctr-%s\r\neth0' "$i")" ] || fail "store file"
    rec=$(state_dir)/ctr-$i-eth0.json
    [ "$(jq -r .podName "$rec")/$(jq -r .podNamespace "$rec")/$(jq -r .hostIfname "$rec")" = "pod-$i/default/$host" ] ||
        fail "attachment record $(cat "$rec")"
    if [ "$v" != 0.3.0 ] && [ "$v" != 0.3.1 ]; then
        cni_ok CHECK "ctr-$i" eth0 "$ns" "$(echo "$c" | jq -c --argjson r "$result" '. + {prevResult: $r}')"
    fi
    pass "ADD result and state at $v"
done

# --- requested addresses and MAC: CNI_ARGS IP=, runtimeConfig.ips, runtimeConfig.mac ---------
c=$(conf 1.1.0 '.runtimeConfig = {ips: ["10.99.1.77/24"], mac: "02:00:0a:63:01:4d"}')
cni_ok ADD req-1 eth0 "$(new_pod req1)" "$c"
[ "$(echo "$OUT" | jq -r '.ips[0].address + " " + .interfaces[1].mac')" = "10.99.1.77/24 02:00:0a:63:01:4d" ] ||
    fail "runtimeConfig ips/mac: $OUT"
[ "$(ip -n "$RUN-req1" -j link show eth0 | jq -r '.[0].address')" = 02:00:0a:63:01:4d ] || fail "pod MAC"
cni_ok ADD req-2 eth0 "$(new_pod req2)" "$(conf 1.1.0)" "IgnoreUnknown=1;IP=10.99.1.88;K8S_POD_UID=x"
[ "$(echo "$OUT" | jq -r '.ips[0].address')" = 10.99.1.88/24 ] || fail "CNI_ARGS IP=: $OUT"
cni_ok DEL req-1 eth0 "/run/netns/$RUN-req1" "$c"
cni_ok DEL req-2 eth0 "/run/netns/$RUN-req2" "$c"
pass "requested IPs (runtimeConfig.ips, CNI_ARGS IP=) and runtimeConfig.mac"

# --- not first in a chain: the prevResult is passed on, ours appended ---------------------------
prev='{"cniVersion":"1.0.0","interfaces":[{"name":"lo0","sandbox":"/x"}],"ips":[{"address":"192.168.9.9/24","interface":0}],"routes":[{"dst":"192.168.0.0/16"}],"dns":{"nameservers":["9.9.9.9"]}}'
cni_ok ADD chain-2 eth0 "$(new_pod ch2)" "$(conf 1.0.0 ".prevResult = $prev")"
[ "$(echo "$OUT" | jq -c '[([.interfaces[].name] | [.[0], .[2]]), [.ips[] | [(.address | .[0:7]), .interface]], [.routes[].dst], .dns]')" = \
  '[["lo0","eth0"],[["192.168",0],["10.99.1",2]],["192.168.0.0/16","0.0.0.0/0","10.99.0.0/16"],{"nameservers":["9.9.9.9"]}]' ] ||
    fail "prevResult not passed on: $OUT"
cni_ok DEL chain-2 eth0 "/run/netns/$RUN-ch2" "$(conf 1.0.0)"
cni ADD chain-3 eth0 "/run/netns/$RUN-ch2" "$(conf 1.0.0 '.prevResult = {"ips":[{"address":"bad"}]}')"
expect_error '{"cniVersion":"1.0.0","code":6,"msg":"invalid prevResult.ips[0].address","details":"\"bad\" is not an address/length"}'
pass "prevResult passed on when shuttle is not first; a bad one is code 6"

# --- host veth name collisions: a foreign link holding the name shifts to a salted one ----------
c=$(conf 1.1.0)
cni_ok ADD col-1 eth0 "$(new_pod col)" "$c"
taken=$(echo "$OUT" | jq -r '.interfaces[0].name')
cni_ok DEL col-1 eth0 "/run/netns/$RUN-col" "$c"
ip -n "$NODE" link add "$taken" type veth peer name "colp$$"
cni_ok ADD col-1 eth0 "/run/netns/$RUN-col" "$c"
other=$(echo "$OUT" | jq -r '.interfaces[0].name')
[[ $other =~ ^sh[0-9a-f]{13}$ && $other != "$taken" ]] || fail "collision: got $other next to $taken"
cni_ok DEL col-1 eth0 "/run/netns/$RUN-col" "$c"
ip -n "$NODE" link show "$taken" >/dev/null 2>&1 || fail "DEL removed the foreign $taken"
ip -n "$NODE" link del "$taken"
pass "host veth name collision handled"

# --- CHECK names what drifted -----------------------------------------------------------
ns=/run/netns/$RUN-v5
c=$(conf 1.1.0)
cni_ok ADD ctr-drift eth0 "$(new_pod drift)" "$c"
prev=$OUT
dns=/run/netns/$RUN-drift
host=$(echo "$prev" | jq -r '.interfaces[0].name')
withprev=$(echo "$c" | jq -c --argjson r "$prev" '. + {prevResult: $r}')
ip -n "$RUN-drift" route del 10.99.0.0/16
ip -n "$RUN-drift" link set eth0 mtu 1300
cni CHECK ctr-drift eth0 "$dns" "$withprev"
expect_error 106 '{"cniVersion":"1.1.0","code":106,"msg":"check failed","details":"eth0 has MTU 1300, expected 1400; route 10.99.0.0/16 via 10.99.1.1 is missing in the container"}'
ip -n "$NODE" route del "$(echo "$prev" | jq -r '.ips[0].address' | cut -d/ -f1)"
cni CHECK ctr-drift eth0 "$dns" "$withprev"
[ "$(echo "$OUT" | jq -r .details)" = "eth0 has MTU 1300, expected 1400; route 10.99.0.0/16 via 10.99.1.1 is missing in the container; host route $(echo "$prev" | jq -r '.ips[0].address' | cut -d/ -f1)/32 dev $host is missing" ] ||
    fail "CHECK details: $OUT"
# the datapath's own drift: the program detached behind shuttle's back
node tc filter del dev "$host" ingress
cni CHECK ctr-drift eth0 "$dns" "$withprev"
[ "$(echo "$OUT" | jq .code)" = 106 ] && echo "$OUT" | jq -r .details | contains "; datapath: " ||
    fail "CHECK missed the detached program: $OUT"
cni_ok DEL ctr-drift eth0 "$dns" "$c"
pass "CHECK reports drift precisely"

# --- DEL is idempotent ----------------------------------------------------------------------
c=$(conf 1.0.0)
cni_ok DEL ctr-1 eth0 "/run/netns/$RUN-v1" "$c"
cni_ok DEL ctr-1 eth0 "/run/netns/$RUN-v1" "$c"          # twice
ip -n "$NODE" link del "$(jq -r .hostIfname "$(state_dir)/ctr-2-eth0.json")"
cni_ok DEL ctr-2 eth0 "/run/netns/$RUN-v2" "$c"          # veth already gone
cni_ok DEL ctr-3 eth0 "" "$c"                            # empty CNI_NETNS
ip netns del "$RUN-v4"
cni_ok DEL ctr-4 eth0 "/run/netns/$RUN-v4" "$c"          # netns gone
rm -f "$(store_dir)/10.99.1.6"
cni_ok DEL ctr-5 eth0 "/run/netns/$RUN-v5" "$c"          # address already released
cni_ok DEL never-added eth0 "/run/netns/$RUN-v5" "$c"    # nothing at all
expect_clean_node
[ -z "$(ls "$(echo "$BPFFS"/shuttle/v*/links/ingress)")" ] || fail "DEL left datapath links"
[ "$(node "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" --json endpoints | jq length)" = 0 ] ||
    fail "DEL left endpoint entries"
pass "DEL idempotent: twice, veth gone, empty netns, netns gone, address gone"

# --- STATUS --------------------------------------------------------------------------------
cni_ok STATUS "" "" "" "$(conf 1.1.0)"
cni STATUS "" "" "" "$(conf 1.1.0 '.subnetFile = "/nonexistent/subnet.env" | del(.ipam)')"
expect_error 50 '{"cniVersion":"1.1.0","code":50,"msg":"subnet file /nonexistent/subnet.env does not exist yet","details":"the node agent (shuttled or flanneld) has not written it; try again"}'
touch "$WORK/notadir"
cni STATUS "" "" "" "$(conf 1.1.0 ".ipam.dataDir = \"$WORK/notadir/x\"")"
expect_error 50 "{\"cniVersion\":\"1.1.0\",\"code\":50,\"msg\":\"the IPAM data dir is not writable\",\"details\":\"$WORK/notadir/x/net-$RUN: Not a directory\"}"
cni STATUS "" "" "" "$(conf 1.1.0 '.ipam = {type: "no-such-ipam"}')"
expect_error 50 "{\"cniVersion\":\"1.1.0\",\"code\":50,\"msg\":\"the IPAM plugin is missing\",\"details\":\"failed to find plugin \\\"no-such-ipam\\\" in path [$CNI_PATH_DIR]\"}"
cni STATUS "" "" "" "$(conf 1.1.0 ".bpffsRoot = \"$WORK/notbpf/shuttle\"")"
expect_error "{\"cniVersion\":\"1.1.0\",\"code\":50,\"msg\":\"the eBPF datapath cannot be pinned\",\"details\":\"$WORK is not on a bpf filesystem (bpffsRoot $WORK/notbpf/shuttle); run: mkdir -p $WORK/notbpf && mount -t bpf bpf $WORK/notbpf\"}"
pass STATUS

# --- GC ------------------------------------------------------------------------------------
c=$(conf 1.1.0)
for k in 1 2 3; do cni_ok ADD "gc-$k" eth0 "$(new_pod "gc$k")" "$c"; done
# a leak: a reservation without any attachment (an unclean reboot)
printf 'leaked\r\neth0' >"$(store_dir)/10.99.1.200"
cni_ok GC "" "" "" "$(echo "$c" | jq -c '. + {"cni.dev/valid-attachments": [{containerID:"gc-2",ifname:"eth0"}]}')"
[ "$(count_reservations)" = 1 ] || fail "GC left $(ls "$(store_dir)")"
[ "$(cat "$(store_dir)"/10.99.1.*)" = "$(printf 'gc-2\r\neth0')" ] || fail "GC released the valid one"
[ "$(count_host_veths)" = 1 ] || fail "GC left veths"
[ "$(count_records)" = 1 ] || fail "GC left records"
ip -n "$RUN-gc2" link show eth0 >/dev/null 2>&1 || fail "GC removed a valid pod's interface"
cni_ok GC "" "" "" "$(echo "$c" | jq -c '. + {"cni.dev/valid-attachments": []}')"
expect_clean_node
[ -z "$(ls "$(echo "$BPFFS"/shuttle/v*/links/ingress)")" ] || fail "GC left datapath links"
[ "$(node "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" --json endpoints | jq length)" = 0 ] ||
    fail "GC left endpoint entries"
pass "GC releases all but valid-attachments"
