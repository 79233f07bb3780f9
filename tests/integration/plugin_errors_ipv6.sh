#!/usr/bin/env bash
# IPv6 bad input through the shuttle plugin, beside plugin_errors.sh (IPv4): malformed IPv6
# ranges, subnets and gateways, wrong-typed fields, an exhausted IPv6 range, requested IPv6
# addresses outside the range, and dual-stack ADDs where one family fails. Each error object
# is asserted exactly (exit 1) and each failed ADD leaves nothing: no veth, no route of either
# family, no reservation file, no record, no datapath endpoint, no interface in the pod.
#
# The reference: every config shuttle refuses is fed to Debian's host-local (the IPAM contract
# shuttle shares) in a store of its own, which must refuse it too; where the spec has no code
# of its own (exhaustion, an unavailable address) host-local answers 999 with Go's error text
# and shuttle its codes 102/103 with the same range text, which is compared. Where shuttle is
# stricter than host-local (an IPv6 gateway outside the subnet, which host-local takes as is)
# the test says so.
source "$(dirname "$0")/plugin_lib.bash"

V4_SET='[{subnet: "10.99.1.0/24"}]'
pod() { ip netns exec "$RUN-$1" "${@:2}"; }
ctl() { nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" --json "$@"; }
# the datapath's endpoints as "ip ip6" lines (empty without pins: nothing attached yet)
endpoints() { ctl endpoints 2>/dev/null | jq -r '.[] | "\(.ip) \(.ip6 // "-")"' | sort || true; }
count_host_routes6() { ip -n "$NODE" -6 route show | grep -c 'dev sh' || true; }
store_files() { ls "$(store_dir)" 2>/dev/null | grep -Ev '^(lock|last_reserved_ip\..*|shuttle-index)$' | sort | tr '\n' ' ' || true; }

# Everything a node holds for pods, in one line: compared before and after a failing ADD.
node_state() {
    echo "veths=$(count_host_veths) routes4=$(count_host_routes) routes6=$(count_host_routes6)" \
        "records=$(count_records) store=[$(store_files)] endpoints=[$(endpoints | tr '\n' ',')]"
}

# ref_host_local CONFIG [CNI_ARGS] -> REF_RC, REF_OUT: Debian's host-local on the config's ipam
# (its own dataDir, so the two stores never mix), as the bridge plugin would call it;
# ref_msg: its error message. conf's ipam.dataDir is swapped in the text (no jq: the test
# calls host-local ~40 times), with jq only for a config written otherwise.
REF_STORE=$WORK/ref-store
ref_host_local() {
    local from="\"dataDir\":\"$WORK/networks\"" to="\"dataDir\":\"$REF_STORE\""
    local config=${1//"$from"/"$to"}
    [ "$config" != "$1" ] || config=$(jq -c --arg dd "$REF_STORE" '.ipam.dataDir = $dd' <<<"$1")
    set +e
    REF_OUT=$(env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID="ref$RANDOM" CNI_IFNAME=eth0 \
        CNI_NETNS=/proc/self/ns/net CNI_PATH="$CNI_PATH_DIR" CNI_ARGS="${2:-}" \
        "$CNI_PATH_DIR/host-local" <<<"$config" 2>/dev/null)
    REF_RC=$?
    set -e
}
ref_msg() { jq -r '.msg // empty' <<<"$REF_OUT" 2>/dev/null || true; }
ref_reset() { rm -rf "$REF_STORE"; }

# refused CONFIG 'ERROR-JSON': shuttle's ADD answers exactly ERROR-JSON, host-local refuses the
# same config, and the node holds what it held before. The state after one refused ADD is the
# state before the next (REFUSED_STATE): one read of it per case, not two.
refused() {
    local before=${REFUSED_STATE:-} after
    [ -n "$before" ] || before=$(node_state)
    cni ADD bad eth0 "$ns" "$1"
    expect_error "$2"
    ref_reset
    ref_host_local "$1"
    [ "$REF_RC" != 0 ] || fail "host-local takes what shuttle refuses: $1"
    after=$(node_state)
    [ "$after" = "$before" ] || fail "refused ADD changed the node: $before -> $after"
    REFUSED_STATE=$after
    ip -n "$RUN-a" link show eth0 >/dev/null 2>&1 && fail "refused ADD left eth0 in the pod"
    return 0
}

ns=$(new_pod a)
v6() { conf 1.0.0 ".ipam.ranges += [[$1]]${2:+ | $2}"; } # the IPv4 set plus one IPv6 set [, then a filter]
err7() { # the details JSON-quoted in bash (quotes and backslashes; they hold no control character)
    local bs='\' q='"' d
    d=${2//"$bs"/"$bs$bs"}
    echo "{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"invalid network config: $1\",\"details\":\"${d//"$q"/"$bs$q"}\"}"
}

# --- malformed IPv6 ranges, subnets and gateways: code 7, host-local refuses too ------------------
refused "$(v6 '{subnet: "fd00:99:/64"}')" "$(err7 'ipam.ranges[1][0].subnet' '"fd00:99:/64" is not an address/length')"
refused "$(v6 '{subnet: "fd00:99::/64/64"}')" "$(err7 'ipam.ranges[1][0].subnet' '"fd00:99::/64/64" is not an address/length')"
refused "$(v6 '{subnet: "fd00:99::"}')" "$(err7 'ipam.ranges[1][0].subnet' '"fd00:99::" is not an address/length')"
refused "$(v6 '{subnet: "fd00:99::/128"}')" "$(err7 'ipam.ranges[1][0].subnet' 'network fd00:99::/128 too small to allocate from')"
refused "$(conf 1.0.0 'del(.ipam.ranges) | .ipam.subnet = "fd00:99::1/64"')" "$(err7 'ipam.subnet' 'fd00:99::1/64 has host bits set')"
refused "$(v6 '{subnet: "fd00:99::/64", gateway: "fd00:99::zz"}')" "$(err7 'ipam.ranges[1][0].gateway' '"fd00:99::zz" is not an IP address')"
refused "$(v6 '{subnet: "fd00:99::/64", rangeStart: "fd00:99::q"}')" "$(err7 'ipam.ranges[1][0].rangeStart' '"fd00:99::q" is not an IP address')"
refused "$(v6 '{subnet: "fd00:99::/64", rangeStart: "10.99.1.5"}')" "$(err7 'ipam.ranges[1][0].rangeStart' '10.99.1.5 is not in fd00:99::/64')"
refused "$(v6 '{subnet: "fd00:99::/64", rangeEnd: "fd00:99:0:1::9"}')" "$(err7 'ipam.ranges[1][0].rangeEnd' 'fd00:99:0:1::9 is not in fd00:99::/64')"
refused "$(v6 '{subnet: "fd00:99::/64", rangeStart: "fd00:99::20", rangeEnd: "fd00:99::10"}')" "$(err7 'ipam.ranges[1][0].rangeStart' 'fd00:99::20 is after rangeEnd fd00:99::10')"
refused "$(v6 '{subnet: "fd00:99::/64"}, {subnet: "fd00:99::/80"}')" "$(err7 'ipam.ranges' 'range fd00:99::/80 overlaps fd00:99::/64')"
refused "$(conf 1.0.0 ".ipam.ranges += [[{subnet: \"fd00:99::/64\"}], [{subnet: \"fd00:99::/64\"}]]")" "$(err7 'ipam.ranges' 'range fd00:99::/64 overlaps fd00:99::/64')"
pass "malformed IPv6 subnets, ranges and gateways: code 7, refused by host-local too, nothing left"

# host-local takes a gateway outside the subnet (either family) as it is; shuttle refuses it:
# the gateway goes on the host end and into the pod's ::/0 route, which must be on its prefix
# (with an IPv4 gateway the bridge plugin fails later, at the bridge's address).
stricter() { # config error-json
    cni ADD bad eth0 "$ns" "$1"
    expect_error "$2"
    ref_reset
    ref_host_local "$1"
    [ "$REF_RC" = 0 ] || fail "host-local now refuses it too ($(ref_msg)): move it to refused()"
}
stricter "$(v6 '{subnet: "fd00:99::/64", gateway: "fd00:98::1"}')" "$(err7 'ipam.ranges[1][0].gateway' 'fd00:98::1 is not in fd00:99::/64')"
stricter "$(v6 '{subnet: "fd00:99::/64", gateway: "10.99.1.1"}')" "$(err7 'ipam.ranges[1][0].gateway' '10.99.1.1 is not in fd00:99::/64')"
pass "an IPv6 gateway outside the subnet or of the other family: code 7 (host-local takes both; shuttle is stricter)"

# --- wrong-typed fields --------------------------------------------------------------------------
refused "$(v6 '{subnet: 64}')" "$(err7 'ipam.ranges[1][0].subnet' 'must be a string')"
refused "$(v6 '{subnet: "fd00:99::/64", gateway: 1}')" "$(err7 'ipam.ranges[1][0].gateway' 'must be a string')"
refused "$(v6 '{subnet: "fd00:99::/64", rangeStart: ["fd00:99::5"]}')" "$(err7 'ipam.ranges[1][0].rangeStart' 'must be a string')"
refused "$(v6 '"fd00:99::/64"')" "$(err7 'ipam.ranges[1][0]' 'must be an object')"
refused "$(conf 1.0.0 '.ipam.ranges += [{subnet: "fd00:99::/64"}]')" "$(err7 'ipam.ranges[1]' 'must be a non-empty list of ranges')"
refused "$(conf 1.0.0 '.ipam.ranges = "fd00:99::/64"')" "$(err7 'ipam.ranges' 'must be a list of lists of ranges')"
refused "$(v6 '{subnet: "fd00:99::/64"}' '.runtimeConfig = {ips: "fd00:99::5"}')" "$(err7 'runtimeConfig.ips' 'must be a list of IP addresses')"
refused "$(v6 '{subnet: "fd00:99::/64"}' '.runtimeConfig = {ips: [6]}')" "$(err7 'runtimeConfig.ips' 'must be a list of IP addresses')"
refused "$(v6 '{subnet: "fd00:99::/64"}' '.runtimeConfig = {ips: ["fd00:99::g"]}')" "$(err7 'runtimeConfig.ips' '"fd00:99::g" is not an IP address')"
refused "$(v6 '{subnet: "fd00:99::/64"}' '.runtimeConfig = {ips: ["fd00:99::5/64/1"]}')" "$(err7 'runtimeConfig.ips' '"fd00:99::5/64/1" is not an IP address')"
refused "$(v6 '{subnet: "fd00:99::/64"}' '.runtimeConfig = {ips: ["fd00:99::5/129"]}')" "$(err7 'runtimeConfig.ips' '"fd00:99::5/129" is not an IP address')"
# args.cni.ips: host-local reads it too (cni.dev/args), with the same refusal
cni ADD bad eth0 "$ns" "$(v6 '{subnet: "fd00:99::/64"}' '.args = {cni: {ips: [{ip: "fd00:99::5"}]}}')"
[ "$(echo "$OUT" | jq -c '[.code, .msg]')" = '[7,"invalid network config: args.cni.ips"]' ] || fail "args.cni.ips of objects: $OUT"
for arg in "IP=fd00:99::5/64/1" "IP=fd00:99::5/abc" "IP=fd00:99::5/129"; do
    cni ADD bad eth0 "$ns" "$(v6 '{subnet: "fd00:99::/64"}')" "$arg"
    expect_error "{\"cniVersion\":\"1.0.0\",\"code\":4,\"msg\":\"invalid CNI_ARGS\",\"details\":\"$arg: not an IP address\"}"
    ref_host_local "$(v6 '{subnet: "fd00:99::/64"}')" "$arg"
    [ "$REF_RC" != 0 ] || fail "host-local takes $arg"
done
[ "$(node_state)" = "$(echo "veths=0 routes4=0 routes6=0 records=0 store=[] endpoints=[]")" ] || fail "wrong-typed fields left: $(node_state)"
pass "wrong-typed IPv6 fields: code 7 (4 for CNI_ARGS), refused by host-local too, nothing left"

# --- an exhausted IPv6 range: dual-stack, then IPv6-only ------------------------------------------
small6='{subnet: "fd00:99::/64", rangeStart: "fd00:99::10", rangeEnd: "fd00:99::12"}'
dual=$(v6 "$small6")
for k in 1 2 3; do cni_ok ADD "x$k" eth0 "$(new_pod "x$k")" "$dual"; done
want_endpoints=$(printf '10.99.1.%d fd00:99::1%d\n' 2 0 3 1 4 2)
[ "$(endpoints)" = "$want_endpoints" ] || fail "endpoints of the 3 pods: $(endpoints)"
before=$(node_state)
k=3
while :; do # ADDs until the IPv6 range has no address left
    k=$((k + 1))
    cni ADD "x$k" eth0 "$(new_pod "x$k")" "$dual"
    [ "$RC" = 0 ] || break
    [ "$k" -lt 10 ] || fail "the IPv6 range of 3 addresses gave $k"
done
[ "$k" = 4 ] || fail "the 4th ADD should have failed, the $k-th did"
expect_error '{"cniVersion":"1.0.0","code":102,"msg":"no IP addresses available in range set","details":"fd00:99::10-fd00:99::12"}'
[ "$(node_state)" = "$before" ] || fail "exhausted ADD changed the node: $before -> $(node_state)"
ip -n "$RUN-x4" link show eth0 2>/dev/null && fail "exhausted ADD left eth0 in the pod"
[ -e "$(store_dir)/10.99.1.5" ] && fail "the IPv4 address of the failed ADD is still reserved"
# host-local, same config, its own store: the same three, then the same range text
ref_reset
for k in 1 2 3; do ref_host_local "$dual" && [ "$REF_RC" = 0 ] || fail "host-local ADD $k: $(ref_msg)"; done
ref_host_local "$dual"
[ "$REF_RC" != 0 ] && [[ $(ref_msg) == *"no IP addresses available in range set: fd00:99::10-fd00:99::12" ]] ||
    fail "host-local on the exhausted range: rc=$REF_RC $(ref_msg)"
[ "$(ls "$REF_STORE/net-$RUN" | grep -c '^10\.')" = 3 ] || fail "host-local kept the IPv4 address of its failed ADD"
for k in 1 2 3; do cni_ok DEL "x$k" eth0 "/run/netns/$RUN-x$k" "$dual"; done
cni_ok DEL x4 eth0 "/run/netns/$RUN-x4" "$dual" # the runtime's DEL after a failed ADD
expect_clean_node
[ "$(count_host_routes6)" = 0 ] && [ -z "$(endpoints)" ] || fail "left after DEL: $(node_state)"
pass "exhausted IPv6 range (dual-stack): code 102 on the 4th ADD, host-local's range text, nothing of either family left"

only6=$(conf 1.0.0 ".ipam.ranges = [[{subnet: \"fd00:99:2::/64\", rangeStart: \"fd00:99:2::fe\", rangeEnd: \"fd00:99:2::ff\"}]]")
cni_ok ADD s1 eth0 "$(new_pod s1)" "$only6"
cni_ok ADD s2 eth0 "$(new_pod s2)" "$only6"
before=$(node_state)
cni ADD s3 eth0 "$(new_pod s3)" "$only6"
expect_error '{"cniVersion":"1.0.0","code":102,"msg":"no IP addresses available in range set","details":"fd00:99:2::fe-fd00:99:2::ff"}'
[ "$(node_state)" = "$before" ] || fail "exhausted IPv6-only ADD changed the node: $before -> $(node_state)"
ip -n "$RUN-s3" link show eth0 2>/dev/null && fail "exhausted IPv6-only ADD left eth0 in the pod"
for k in 1 2; do cni_ok DEL "s$k" eth0 "/run/netns/$RUN-s$k" "$only6"; done
expect_clean_node
[ "$(count_host_routes6)" = 0 ] || fail "IPv6 routes left: $(ip -n "$NODE" -6 route)"
pass "exhausted IPv6-only range: code 102, nothing left"

# --- requested IPv6 addresses outside the range, the gateway, on an IPv4-only network ---------------
cni_ok ADD r1 eth0 "$(new_pod r1)" "$dual"
ref_reset
ref_host_local "$dual" # host-local's store holds what shuttle's does: fd00:99::10 taken
[ "$REF_RC" = 0 ] || fail "host-local ADD: $(ref_msg)"
r2=$(new_pod r2)
before=$(node_state)
# requested ADD: shuttle's error; host-local with the same request refuses too
requested_refused() { # config cni-args error-json
    cni ADD r2 eth0 "$r2" "$1" "$2"
    expect_error "$3"
    ref_host_local "$1" "$2"
    [ "$REF_RC" != 0 ] || fail "host-local grants what shuttle refuses: $2 $(echo "$1" | jq -c '[.runtimeConfig, .args]')"
    [ "$(node_state)" = "$before" ] || fail "refused request changed the node: $before -> $(node_state)"
    ip -n "$RUN-r2" link show eth0 2>/dev/null && fail "refused request left eth0 in the pod"
    return 0
}
requested_refused "$dual" "IP=fd00:99::13" \
    '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is in no range set","details":"fd00:99::13"}'
requested_refused "$dual" "IgnoreUnknown=1;IP=10.99.1.50,fd00:98::10" \
    '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is in no range set","details":"fd00:98::10"}'
requested_refused "$(echo "$dual" | jq -c '.runtimeConfig = {ips: ["fd00:99::ffff/64"]}')" "" \
    '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is in no range set","details":"fd00:99::ffff"}'
requested_refused "$(echo "$dual" | jq -c '.args = {cni: {ips: ["fd00:99::10"]}}')" "" \
    '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is not available","details":"fd00:99::10 in range set fd00:99::10-fd00:99::12"}'
# the gateway of a range that holds it
gw=$(conf 1.0.0 '.ipam.ranges += [[{subnet: "fd00:99:3::/64", rangeStart: "fd00:99:3::1", rangeEnd: "fd00:99:3::9"}]]')
requested_refused "$gw" "IP=fd00:99:3::1" \
    '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is the gateway","details":"fd00:99:3::1 in range set fd00:99:3::1-fd00:99:3::9"}'
# an IPv6 request on an IPv4-only network
requested_refused "$(conf 1.0.0)" "IP=fd00:99::11" \
    '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is in no range set","details":"fd00:99::11"}'
cni_ok DEL r1 eth0 "/run/netns/$RUN-r1" "$dual"
expect_clean_node
pass "requested IPv6 addresses outside the range, taken, the gateway, on IPv4-only: code 103, refused by host-local too, nothing left"

# --- dual-stack, one family fails: the other family's address is released --------------------------
# IPv6 set first, IPv4 set exhausted: the IPv6 address taken first goes back
v6first=$(conf 1.0.0 '.ipam.ranges = [[{subnet: "fd00:99:4::/64"}], [{subnet: "10.99.1.0/24", rangeStart: "10.99.1.20", rangeEnd: "10.99.1.20"}]]')
cni_ok ADD f1 eth0 "$(new_pod f1)" "$v6first"
[ "$(echo "$OUT" | jq -c '[.ips[].address]')" = '["fd00:99:4::2/64","10.99.1.20/24"]' ] || fail "IPv6-first result: $OUT"
before=$(node_state)
cni ADD f2 eth0 "$(new_pod f2)" "$v6first"
expect_error '{"cniVersion":"1.0.0","code":102,"msg":"no IP addresses available in range set","details":"10.99.1.20-10.99.1.20"}'
[ "$(node_state)" = "$before" ] || fail "IPv4 exhaustion kept the IPv6 address: $before -> $(node_state)"
[ -e "$(store_dir)/fd00:99:4::3" ] && fail "fd00:99:4::3 still reserved"
ref_reset
ref_host_local "$v6first"
ref_host_local "$v6first"
[ "$REF_RC" != 0 ] && [[ $(ref_msg) == *"no IP addresses available in range set: 10.99.1.20-10.99.1.20" ]] || fail "host-local: $(ref_msg)"
[ ! -e "$REF_STORE/net-$RUN/fd00:99:4::3" ] || fail "host-local kept the IPv6 address of its failed ADD"
# the next ADD after a DEL gets fd00:99:4::3: the round robin moved on past the released one, as host-local's
cni_ok DEL f1 eth0 "/run/netns/$RUN-f1" "$v6first"
cni_ok ADD f2 eth0 "/run/netns/$RUN-f2" "$v6first"
[ "$(echo "$OUT" | jq -c '[.ips[].address]')" = '["fd00:99:4::4/64","10.99.1.20/24"]' ] || fail "after the rollback: $OUT"
cni_ok DEL f2 eth0 "/run/netns/$RUN-f2" "$v6first"
expect_clean_node
pass "dual-stack, IPv4 exhausted after IPv6 was taken: code 102, the IPv6 address released (as host-local)"

# the IPv4 request is taken, the IPv6 one fine: the IPv6 address goes back
cni_ok ADD t1 eth0 "$(new_pod t1)" "$(v6 '{subnet: "fd00:99:5::/64"}')" "IP=10.99.1.30"
before=$(node_state)
cni ADD t2 eth0 "$(new_pod t2)" "$(v6 '{subnet: "fd00:99:5::/64"}')" "IgnoreUnknown=1;IP=10.99.1.30,fd00:99:5::30"
expect_error '{"cniVersion":"1.0.0","code":103,"msg":"requested IP address is not available","details":"10.99.1.30 in range set 10.99.1.1-10.99.1.254"}'
[ "$(node_state)" = "$before" ] || fail "a taken IPv4 request kept the IPv6 one: $before -> $(node_state)"
# a failure after IPAM (netlink refuses a multicast MAC): both families' addresses, veth and routes go
cni ADD t3 eth0 "$(new_pod t3)" "$(v6 '{subnet: "fd00:99:5::/64"}' '.runtimeConfig = {mac: "01:00:5e:00:00:01"}')"
[ "$RC" = 1 ] && [ "$(echo "$OUT" | jq .code)" = 105 ] || fail "multicast MAC should fail in netlink: $OUT"
[ "$(node_state)" = "$before" ] || fail "a dual-stack ADD failing after IPAM left: $before -> $(node_state)"
ip -n "$RUN-t3" link show eth0 2>/dev/null && fail "rolled-back dual-stack ADD left eth0"
cni_ok DEL t1 eth0 "/run/netns/$RUN-t1" "$(v6 '{subnet: "fd00:99:5::/64"}')"
expect_clean_node
[ "$(count_host_routes6)" = 0 ] && [ -z "$(endpoints)" ] || fail "left at the end: $(node_state)"
pass "dual-stack, one family refused or netlink failing after IPAM: both families rolled back, nothing left"
