#!/usr/bin/env bash
# Every error path of the shuttle plugin, with the exact error object on stdout and exit 1,
# and that a failed ADD leaves nothing behind.
source "$(dirname "$0")/plugin_lib.bash"

ns=$(new_pod a)
c=$(conf 1.0.0)

# --- 4: environment ---------------------------------------------------------------------
cni ADD "" eth0 "$ns" "$c"
expect_error '{"cniVersion":"1.0.0","code":4,"msg":"required environment variable CNI_CONTAINERID is missing"}'
cni ADD c1 eth0 "" "$c"
expect_error '{"cniVersion":"1.0.0","code":4,"msg":"required environment variable CNI_NETNS is missing"}'
cni FROB c1 eth0 "$ns" "$c"
expect_error '{"cniVersion":"1.0.0","code":4,"msg":"unknown CNI_COMMAND","details":"FROB"}'
cni ADD c1 "bad/name" "$ns" "$c"
expect_error '{"cniVersion":"1.0.0","code":4,"msg":"invalid CNI_IFNAME","details":"\"bad/name\" is not a valid interface name"}'
cni ADD c1 eth0 "$ns" "$c" "FOO=bar"
expect_error '{"cniVersion":"1.0.0","code":4,"msg":"invalid CNI_ARGS","details":"unknown key FOO=bar (set IgnoreUnknown=1 to allow)"}'
cni ADD c1 eth0 "/proc/self/status" "$c"
expect_error '{"cniVersion":"1.0.0","code":4,"msg":"invalid CNI_NETNS","details":"/proc/self/status is not a network namespace"}'
cni ADD c1 eth0 "/run/netns/$NODE" "$c"
expect_error "{\"cniVersion\":\"1.0.0\",\"code\":4,\"msg\":\"invalid CNI_NETNS\",\"details\":\"/run/netns/$NODE is the plugin's own network namespace\"}"
ip -n "$NODE" link add eth0 type dummy 2>/dev/null || ip -n "$NODE" link add eth0 type veth peer name eth0p
cni DEL c1 eth0 "/run/netns/$NODE" "$c"
expect_error "{\"cniVersion\":\"1.0.0\",\"code\":4,\"msg\":\"invalid CNI_NETNS\",\"details\":\"/run/netns/$NODE is the plugin's own network namespace\"}"
ip -n "$NODE" link show eth0 >/dev/null || fail "DEL deleted the node's own eth0"
ip -n "$NODE" link del eth0
pass "code 4"

# --- 6 and 1: decoding and versions -------------------------------------------------------
cni ADD c1 eth0 "$ns" '{"cniVersion":'
[ "$(echo "$OUT" | jq -c '[.cniVersion,.code,.msg]')" = '["1.1.0",6,"failed to decode the network config"]' ] || fail "code 6: $OUT"
cni ADD c1 eth0 "$ns" "$(conf 0.2.0)"
expect_error '{"cniVersion":"1.1.0","code":1,"msg":"incompatible CNI version","details":"cniVersion 0.2.0 is not one of 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"}'
cni CHECK c1 eth0 "$ns" "$(conf 0.3.1)"
expect_error '{"cniVersion":"0.3.1","code":1,"msg":"incompatible CNI version","details":"CHECK needs cniVersion 0.4.0 or later; the config says 0.3.1"}'
cni GC "" "" "" "$(conf 1.0.0)"
expect_error '{"cniVersion":"1.0.0","code":1,"msg":"incompatible CNI version","details":"GC needs cniVersion 1.1.0 or later; the config says 1.0.0"}'
cni STATUS "" "" "" "$(conf 0.4.0)"
expect_error '{"cniVersion":"0.4.0","code":1,"msg":"incompatible CNI version","details":"STATUS needs cniVersion 1.1.0 or later; the config says 0.4.0"}'
pass "codes 6 and 1"

# --- 7: config fields ---------------------------------------------------------------------
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 '.mtu = "1400"')"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: mtu","details":"must be an integer"}'
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 'del(.name)')"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: name","details":"missing"}'
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 'del(.ipam)')"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: ipam","details":"missing (and no subnetFile)"}'
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 '.attach = "xdp"')"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: attach","details":"\"xdp\" must be auto, tcx, tc or none"}'
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 '.ipam.ranges[0][0].subnet = "10.99.1.0/31"')"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: ipam.ranges[0][0].subnet","details":"network 10.99.1.0/31 too small to allocate from"}'
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 '.runtimeConfig = {ips: ["10.99.1.x"]}')"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: runtimeConfig.ips","details":"\"10.99.1.x\" is not an IP address"}'
cni CHECK c1 eth0 "$ns" "$c"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: prevResult","details":"CHECK needs the ADD result as prevResult"}'
cni GC "" "" "" "$(conf 1.1.0)"
expect_error '{"cniVersion":"1.1.0","code":7,"msg":"invalid network config: cni.dev/valid-attachments","details":"missing"}'
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 '.ipam.type = "no-such-ipam"')"
expect_error "{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"invalid network config: ipam.type\",\"details\":\"failed to find plugin \\\"no-such-ipam\\\" in path [$CNI_PATH_DIR]\"}"
pass "code 7"

# --- 7: malformed IPv6 ranges (IPv6 is no longer code 2) ------------------------------------------
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 '.ipam.ranges += [[{subnet: "fd00:99::/129"}]]')"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: ipam.ranges[1][0].subnet","details":"\"fd00:99::/129\" is not an address/length"}'
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 '.ipam.ranges += [[{subnet: "fd00:99::5/64"}]]')"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: ipam.ranges[1][0].subnet","details":"fd00:99::5/64 has host bits set"}'
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 '.ipam.ranges += [[{subnet: "fd00:99::/127"}]]')"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: ipam.ranges[1][0].subnet","details":"network fd00:99::/127 too small to allocate from"}'
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 '.ipam.ranges += [[{subnet: "fd00:99::/64", rangeEnd: "fd00:98::9"}]]')"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: ipam.ranges[1][0].rangeEnd","details":"fd00:98::9 is not in fd00:99::/64"}'
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 '.ipam.ranges[0] += [{subnet: "fd00:99::/64"}]')"
expect_error '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config: ipam.ranges[0]","details":"mixes IPv4 and IPv6 ranges (one family per range set)"}'
cni ADD c1 eth0 "$ns" "$(conf 1.0.0 '.ipam.routes += [{dst: "fd00:99::/64x"}]')"
[ "$(echo "$OUT" | jq -c '[.code, .msg]')" = '[7,"invalid network config: ipam.routes[1].dst"]' ] || fail "bad IPv6 route: $OUT"
expect_clean_node
pass "code 7: malformed IPv6 ranges"

# --- 11: subnet.env not written yet -------------------------------------------------------------
cni ADD c1 eth0 "$ns" "$(conf 0.3.1 "del(.ipam) | .subnetFile = \"$WORK/subnet.env\"")"
expect_error "{\"cniVersion\":\"0.3.1\",\"code\":11,\"msg\":\"subnet file $WORK/subnet.env does not exist yet\",\"details\":\"the node agent (shuttled or flanneld) has not written it; try again\"}"
pass "code 11"

# --- 3: netns that does not exist -----------------------------------------------------------------
cni ADD c1 eth0 "/run/netns/$RUN-nope" "$c"
expect_error "{\"cniVersion\":\"1.0.0\",\"code\":3,\"msg\":\"container network namespace does not exist\",\"details\":\"/run/netns/$RUN-nope\"}"
cni CHECK c1 eth0 "/run/netns/$RUN-nope" "$(echo "$c" | jq -c '.prevResult = {cniVersion:"1.0.0"}')"
expect_error "{\"cniVersion\":\"1.0.0\",\"code\":3,\"msg\":\"container network namespace does not exist\",\"details\":\"/run/netns/$RUN-nope\"}"
pass "code 3"
expect_clean_node

# --- 101, 104, 103: attachment conflicts ------------------------------------------------------------
cni_ok ADD c1 eth0 "$ns" "$c"
cni ADD c2 eth0 "$ns" "$c"
expect_error "{\"cniVersion\":\"1.0.0\",\"code\":101,\"msg\":\"interface already exists in the container\",\"details\":\"eth0 in $ns\"}"
cni ADD c1 eth0 "$(new_pod b)" "$c"
expect_error '{"cniVersion":"1.0.0","code":104,"msg":"duplicate allocation is not allowed","details":"10.99.1.2 is already allocated to c1/eth0"}'
cni ADD c3 eth0 "/run/netns/$RUN-b" "$c" "IP=10.99.1.2"
expect_error '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is not available","details":"10.99.1.2 in range set 10.99.1.1-10.99.1.254"}'
[ "$(count_host_veths)/$(count_reservations)/$(count_records)" = 1/1/1 ] || fail "a failed ADD left state behind"
cni_ok DEL c1 eth0 "$ns" "$c"
pass "codes 101, 104, 103 leave nothing behind"

# --- 7: a second shuttle network on the node ---------------------------------------------------------
cni_ok ADD c1 eth0 "$ns" "$c"
cni ADD o1 eth0 "/run/netns/$RUN-b" "$(conf 1.0.0 ".name = \"other-$RUN\"")"
expect_error "{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"invalid network config: name\",\"details\":\"shuttle network net-$RUN already has pods on this node; one shuttle network per node\"}"
cni_ok DEL c1 eth0 "$ns" "$c"
pass "code 7: one shuttle network per node"

# --- 102: exhausted range -------------------------------------------------------------------------------
small=$(conf 1.0.0 '.ipam.ranges = [[{subnet: "10.99.1.0/24", rangeStart: "10.99.1.10", rangeEnd: "10.99.1.11"}]]')
cni_ok ADD x1 eth0 "$(new_pod x1)" "$small"
cni_ok ADD x2 eth0 "$(new_pod x2)" "$small"
cni ADD x3 eth0 "$(new_pod x3)" "$small"
expect_error '{"cniVersion":"1.0.0","code":102,"msg":"no IP addresses available in range set","details":"10.99.1.10-10.99.1.11"}'
ip -n "$RUN-x3" link show eth0 2>/dev/null && fail "exhausted ADD left eth0 in the pod"
[ "$(count_host_veths)/$(count_reservations)/$(count_records)" = 2/2/2 ] || fail "exhausted ADD left state"
cni_ok DEL x1 eth0 "/run/netns/$RUN-x1" "$small"
cni_ok DEL x2 eth0 "/run/netns/$RUN-x2" "$small"
expect_clean_node
pass "code 102, nothing left"

# --- IPv6: exhausted range set, requested address outside or taken: both families roll back ---------
dual=$(conf 1.0.0 '.ipam.ranges += [[{subnet: "fd00:99::/64", rangeStart: "fd00:99::10", rangeEnd: "fd00:99::11"}]]')
cni_ok ADD y1 eth0 "$(new_pod y1)" "$dual"
cni ADD y3 eth0 "$(new_pod y3)" "$dual" "IP=fd00:99::12"
expect_error '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is in no range set","details":"fd00:99::12"}'
cni ADD y3 eth0 "/run/netns/$RUN-y3" "$(echo "$dual" | jq -c '.runtimeConfig = {ips: ["fd01::1"]}')"
expect_error '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is in no range set","details":"fd01::1"}'
cni ADD y3 eth0 "/run/netns/$RUN-y3" "$(echo "$dual" | jq -c '.args = {cni: {ips: ["fd00:99::10"]}}')"
expect_error '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is not available","details":"fd00:99::10 in range set fd00:99::10-fd00:99::11"}'
cni ADD y3 eth0 "/run/netns/$RUN-y3" "$dual" "IP=fd00:99::zz"
[ "$(echo "$OUT" | jq -c '[.code, .msg]')" = '[4,"invalid CNI_ARGS"]' ] || fail "malformed IPv6 in CNI_ARGS: $OUT"
[ "$(count_host_veths)/$(count_reservations)/$(count_records)" = 1/2/1 ] || fail "failed IPv6 ADDs left state"
cni_ok ADD y2 eth0 "$(new_pod y2)" "$dual"
cni ADD y3 eth0 "/run/netns/$RUN-y3" "$dual"
expect_error '{"cniVersion":"1.0.0","code":102,"msg":"no IP addresses available in range set","details":"fd00:99::10-fd00:99::11"}'
ip -n "$RUN-y3" link show eth0 2>/dev/null && fail "exhausted IPv6 ADD left eth0 in the pod"
[ "$(count_host_veths)/$(count_reservations)/$(count_records)" = 2/4/2 ] || fail "exhausted IPv6 ADD left state"
cni_ok DEL y1 eth0 "/run/netns/$RUN-y1" "$dual"
cni_ok DEL y2 eth0 "/run/netns/$RUN-y2" "$dual"
expect_clean_node
pass "IPv6 codes 102 and 103 (exhausted, outside the range, taken), nothing left of either family"

# --- a failure after IPAM rolls back the veth and the reservation ---------------------------------------
cni ADD m1 eth0 "$(new_pod m1)" "$(conf 1.0.0 '.runtimeConfig = {mac: "01:00:5e:00:00:01"}')"
[ "$RC" = 1 ] && [ "$(echo "$OUT" | jq .code)" = 105 ] || fail "multicast MAC should fail in netlink: $OUT"
ip -n "$RUN-m1" link show eth0 2>/dev/null && fail "rolled-back ADD left eth0"
expect_clean_node
pass "failed ADD rolls back veth and reservation (code 105)"

# --- errors reach stderr and the logFile --------------------------------------------------------------------
cni ADD c1 eth0 "/run/netns/$RUN-nope" "$(conf 1.0.0 ".logFile = \"$WORK/shuttle.log\"")"
grep -q "error 3: container network namespace does not exist: /run/netns/$RUN-nope" "$WORK/shuttle.log" || fail "log file: $(cat "$WORK/shuttle.log")"
echo "$ERR" | contains "error 3: container network namespace does not exist" || fail "stderr: $ERR"
pass "errors logged to stderr and logFile"
