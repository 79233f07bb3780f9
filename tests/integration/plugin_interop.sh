#!/usr/bin/env bash
# shuttle next to Debian's reference plugins (/usr/lib/cni, 1.1.1, spec up to 1.0.0):
# host-local sees shuttle's reservations and the reverse; the static IPAM is delegated to;
# portmap, bandwidth and tuning chain after shuttle at 0.3.1 and 1.0.0; subnetFile works as
# flannel's meta plugin.
source "$(dirname "$0")/plugin_lib.bash"

# --- host-local interop ------------------------------------------------------------------
c=$(conf 1.0.0)
ns1=$(new_pod h1)
ns2=$(new_pod h2)
ns3=$(new_pod h3)
PLUGIN=$CNI_BIN_DIR/host-local cni ADD hl-1 eth0 "$ns1" "$c"
[ "$RC" = 0 ] || fail "host-local ADD: $OUT $ERR"
[ "$(echo "$OUT" | jq -r '.ips[0].address')" = 10.99.1.2/24 ] || fail "host-local got $OUT"
cni_ok ADD sh-1 eth0 "$ns2" "$c"
[ "$(echo "$OUT" | jq -r '.ips[0].address')" = 10.99.1.3/24 ] || fail "shuttle should skip host-local's .2: $OUT"
PLUGIN=$CNI_BIN_DIR/host-local cni ADD hl-2 eth0 "$ns3" "$c"
[ "$(echo "$OUT" | jq -r '.ips[0].address')" = 10.99.1.4/24 ] || fail "host-local should skip shuttle's .3: $OUT"
# host-local refuses what shuttle holds, shuttle refuses what host-local holds
PLUGIN=$CNI_BIN_DIR/host-local cni ADD hl-3 eth0 "$ns3" "$c" "IP=10.99.1.3"
[ "$RC" != 0 ] || fail "host-local handed out shuttle's address"
cni ADD sh-2 eth0 "$(new_pod h4)" "$c" "IP=10.99.1.2"
expect_error '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is not available","details":"10.99.1.2 in range set 10.99.1.1-10.99.1.254"}'
# each releases the other's reservation by container ID + ifname
cni_ok DEL hl-1 eth0 "" "$c"
[ ! -e "$(store_dir)/10.99.1.2" ] || fail "shuttle DEL did not release host-local's reservation"
PLUGIN=$CNI_BIN_DIR/host-local cni DEL sh-1 eth0 "" "$c"
[ "$RC" = 0 ] && [ ! -e "$(store_dir)/10.99.1.3" ] || fail "host-local DEL did not release shuttle's reservation"
cni_ok DEL sh-1 eth0 "$ns2" "$c"
PLUGIN=$CNI_BIN_DIR/host-local cni DEL hl-2 eth0 "" "$c"
expect_clean_node
pass "host-local and shuttle share one store"

# --- delegation to Debian's static IPAM ---------------------------------------------------------
for v in 0.3.1 1.0.0; do
    s=$(conf "$v" '.ipam = {type: "static", addresses: [{address: "10.99.1.50/24", gateway: "10.99.1.1"}],
                            routes: [{dst: "10.99.0.0/16"}]}')
    ns=$(new_pod "st${v//./}")
    cni_ok ADD st-1 eth0 "$ns" "$s"
    [ "$(echo "$OUT" | jq -c '[.ips[0].address, .ips[0].gateway, .ips[0].interface, .routes[1].dst]')" = \
        '["10.99.1.50/24","10.99.1.1",1,"10.99.0.0/16"]' ] || fail "static result: $OUT"
    ip -n "${ns##*/}" -4 addr show eth0 | contains "inet 10.99.1.50/24" || fail "static address in pod"
    jq -e '.delegateConfig.ipam.type == "static"' "$(state_dir)/st-1-eth0.json" >/dev/null || fail "record"
    if [ "$v" = 1.0.0 ]; then
        cni_ok CHECK st-1 eth0 "$ns" "$(echo "$s" | jq -c --argjson r "$OUT" '.prevResult = $r')"
    fi
    cni_ok DEL st-1 eth0 "$ns" "$s"
    expect_clean_node
done
# GC and STATUS (spec 1.1.0) with a delegate that speaks only up to 1.0.0: the record keeps the
# config the delegate got at ADD, and GC/STATUS are not forwarded to a plugin that lacks them.
s=$(conf 1.0.0 '.ipam = {type: "static", addresses: [{address: "10.99.1.51/24"}]}')
cni_ok ADD st-gc eth0 "$(new_pod stgc)" "$s"
cni_ok STATUS "" "" "" "$(echo "$s" | jq -c '.cniVersion = "1.1.0"')"
cni_ok GC "" "" "" "$(echo "$s" | jq -c '.cniVersion = "1.1.0" | .["cni.dev/valid-attachments"] = []')"
ip -n "$RUN-stgc" link show eth0 >/dev/null 2>&1 && fail "GC left the pod's eth0"
expect_clean_node
pass "static IPAM delegated at 0.3.1 and 1.0.0; GC and STATUS at 1.1.0 with it"

# --- subnetFile, as flannel's meta plugin ---------------------------------------------------------
cat >"$WORK/subnet.env" <<ENV
FLANNEL_NETWORK=10.98.0.0/16
FLANNEL_SUBNET=10.98.3.1/24
FLANNEL_MTU=1410
FLANNEL_IPMASQ=true
ENV
f=$(jq -cn --arg sf "$WORK/subnet.env" --arg dd "$WORK/networks" --arg n "net-$RUN" \
    --arg bpf "$BPFFS/shuttle" \
    '{cniVersion:"0.3.1", name:$n, type:"shuttle", subnetFile:$sf, bpffsRoot:$bpf, ipam:{dataDir:$dd}}')
# (no top-level dataDir here: the records go next to ipam.dataDir)
ns=$(new_pod sf)
cni_ok ADD sf-1 eth0 "$ns" "$f"
[ "$(echo "$OUT" | jq -c '[.ips[0].address, .ips[0].gateway, [.routes[].dst]]')" = \
    '["10.98.3.2/24","10.98.3.1",["0.0.0.0/0","10.98.0.0/16"]]' ] || fail "subnetFile result: $OUT"
[ "$(ip -n "${ns##*/}" -j link show eth0 | jq '.[0].mtu')" = 1410 ] || fail "FLANNEL_MTU not applied"
# delegated addresses outside FLANNEL_SUBNET are refused, and leave nothing
outside=$(echo "$f" | jq -c '.ipam = {type:"static", addresses:[{address:"10.97.0.5/24"}]}')
cni ADD sf-2 eth0 "$(new_pod sf2)" "$outside"
expect_error '{"cniVersion":"0.3.1","code":7,"msg":"invalid network config: ipam","details":"IPAM plugin static returned 10.97.0.5/24, outside the node subnet 10.98.3.0/24"}'
ip -n "$RUN-sf2" link show eth0 2>/dev/null && fail "refused ADD left eth0"
cni_ok DEL sf-1 eth0 "$ns" "$f"
rm "$WORK/subnet.env"
cni_ok DEL sf-1 eth0 "$ns" "$f"   # DEL needs no subnet.env
pass "subnetFile: subnet, MTU and routes from subnet.env; foreign addresses refused"

# --- masquerade: ipMasq, and flannel's rule with FLANNEL_IPMASQ --------------------------------
has_masq_table() { node nft list table ip shuttle >/dev/null 2>&1; }
m=$(conf 1.0.0 '.ipMasq = true')
ns=$(new_pod mq)
cni_ok ADD mq-1 eth0 "$ns" "$m"
withprev=$(echo "$m" | jq -c --argjson r "$OUT" '.prevResult = $r')
grep -q 'ip saddr 10.99.1.0/24 ip daddr != 224.0.0.0/4 .*masquerade' <<<"$(node nft list table ip shuttle)" ||
    fail "ipMasq: no masquerade rule for 10.99.1.0/24: $(node nft list ruleset)"
cni_ok CHECK mq-1 eth0 "$ns" "$withprev"
node nft delete table ip shuttle
cni CHECK mq-1 eth0 "$ns" "$withprev"
expect_error '{"cniVersion":"1.0.0","code":106,"msg":"check failed","details":"masquerade table ip shuttle does not hold the rules for node subnet 10.99.1.0/24 and cluster 10.99.1.0/24"}'
cni_ok DEL mq-1 eth0 "$ns" "$m"
expect_clean_node
cat >"$WORK/subnet.env" <<ENV
FLANNEL_NETWORK=10.98.0.0/16
FLANNEL_SUBNET=10.98.3.1/24
FLANNEL_MTU=1410
FLANNEL_IPMASQ=true
ENV
cni_ok ADD mq-2 eth0 "$ns" "$f"
has_masq_table && fail "FLANNEL_IPMASQ=true: the plugin must leave masquerade to the agent"
cni_ok DEL mq-2 eth0 "$ns" "$f"
sed -i 's/FLANNEL_IPMASQ=true/FLANNEL_IPMASQ=false/' "$WORK/subnet.env"
cni_ok ADD mq-3 eth0 "$ns" "$f"
grep -q 'ip saddr 10.98.3.0/24 ip daddr 10.98.0.0/16 .*return' <<<"$(node nft list table ip shuttle)" ||
    fail "FLANNEL_IPMASQ=false: flannel's rules expected: $(node nft list ruleset)"
cni_ok DEL mq-3 eth0 "$ns" "$f"
node nft delete table ip shuttle
rm "$WORK/subnet.env"
expect_clean_node
pass "masquerade: ipMasq alone, not with FLANNEL_IPMASQ=true, by default with FLANNEL_IPMASQ=false"

# --- chaining: portmap, bandwidth, tuning after shuttle ------------------------------------------------
# libcni's list semantics: each plugin gets its own config + name + cniVersion + runtimeConfig
# + the previous plugin's result as prevResult; DEL runs in reverse with the final result.
chain_plugins='[
  {"type":"shuttle","capabilities":{"bandwidth":true},"mtu":1400,"dataDir":"STATEDIR","bpffsRoot":"BPFROOT","ipam":{"type":"host-local","ranges":[[{"subnet":"10.99.1.0/24"}]],"dataDir":"DATADIR"}},
  {"type":"portmap","capabilities":{"portMappings":true}},
  {"type":"bandwidth","capabilities":{"bandwidth":true}},
  {"type":"tuning","sysctl":{"net.ipv4.conf.eth0.arp_announce":"2"}}]'
chain_plugins=${chain_plugins//DATADIR/$WORK/networks}
chain_plugins=${chain_plugins//STATEDIR/$WORK/shuttle}
chain_plugins=${chain_plugins//BPFROOT/$BPFFS/shuttle}
runtime='{"portMappings":[{"hostPort":18080,"containerPort":80,"protocol":"tcp"}],
          "bandwidth":{"ingressRate":8000000,"ingressBurst":1000000,"egressRate":8000000,"egressBurst":1000000}}'

# plugin_conf INDEX VERSION [PREV]
plugin_conf() {
    echo "$chain_plugins" | jq -c --argjson i "$1" --arg v "$2" --arg n "net-$RUN" \
        --argjson rt "$runtime" --argjson prev "${3:-null}" '
        .[$i] as $p | $p + {cniVersion:$v, name:$n}
        | (if $p.capabilities then .runtimeConfig = ($rt | with_entries(select(.key as $k | $p.capabilities[$k])))
           else . end) | del(.capabilities)
        | (if $prev then .prevResult = $prev else . end)'
}
plugin_bin() { echo "$chain_plugins" | jq -r --argjson i "$1" '.[$i].type'; }

for v in 0.3.1 1.0.0; do
    ns=$(new_pod "ch${v//./}")
    prev=null
    first=""
    for i in 0 1 2 3; do
        PLUGIN=$CNI_PATH_DIR/$(plugin_bin $i) cni ADD chain-1 eth0 "$ns" "$(plugin_conf $i "$v" "$prev")"
        [ "$RC" = 0 ] || fail "$(plugin_bin $i) ADD at $v: $OUT $ERR"
        prev=$OUT
        [ -n "$first" ] || first=$OUT
    done
    # shuttle's result passes through every plugin (bandwidth appends its ifb device)
    json_eq "$(echo "$prev" | jq -c '.interfaces |= .[0:2]')" "$first"
    host=$(echo "$first" | jq -r '.interfaces[0].name')
    # egress shaping asked for: shuttle attached by TCX, so bandwidth could add its ingress qdisc
    [ -e "$(echo "$BPFFS"/shuttle/v*/links/ingress)/$host" ] || fail "shaped pod not attached by TCX"
    node tc filter show dev "$host" ingress | contains from_pod && fail "shaped pod has a clsact filter"
    node tc qdisc show dev "$host" | contains tbf || node tc qdisc show dev "$host" | contains ingress ||
        fail "bandwidth set no qdisc on $host: $(node tc qdisc show dev "$host")"
    [ "$(ip netns exec "${ns##*/}" cat /proc/sys/net/ipv4/conf/eth0/arp_announce)" = 2 ] || fail "tuning sysctl"
    node iptables-save -t nat 2>/dev/null | contains 18080 || node nft list ruleset | contains 18080 ||
        fail "portmap rule missing"
    if [ "$v" = 1.0.0 ]; then
        # Debian's portmap 1.1.1 fails CHECK on any IPv4-only result ("could not check ipv6
        # dnat: chain ... not found"), with the reference ptp plugin as well: skipped.
        for i in 0 2 3; do
            PLUGIN=$CNI_PATH_DIR/$(plugin_bin $i) cni CHECK chain-1 eth0 "$ns" "$(plugin_conf $i "$v" "$prev")"
            [ "$RC" = 0 ] || fail "$(plugin_bin $i) CHECK at $v: $OUT $ERR"
        done
    fi
    for i in 3 2 1 0; do
        PLUGIN=$CNI_PATH_DIR/$(plugin_bin $i) cni DEL chain-1 eth0 "$ns" "$(plugin_conf $i "$v" "$prev")"
        [ "$RC" = 0 ] || fail "$(plugin_bin $i) DEL at $v: $OUT $ERR"
    done
    expect_clean_node
    pass "chain shuttle -> portmap -> bandwidth -> tuning at $v"
done
