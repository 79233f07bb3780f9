#!/usr/bin/env bash
# cnitool, the reference CNI client (libcni 1.1.2 from Debian's source package), drives ADD,
# CHECK and DEL of 0.3.1 and 1.0.0 conflists that start with shuttle, inside a kit node
# (its own /var/lib/cni, /run and bpffs, so the plugin runs with its defaults).
set -euo pipefail
ROOT=${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export SHUTTLE_BIN_DIR=${SHUTTLE_BIN_DIR:-$ROOT/build/bin}
[ -x "$SHUTTLE_BIN_DIR/shuttle" ] || { echo "build first" >&2; exit 1; }
cnitool=$(bash "$ROOT/tools/build-cnitool.sh" "$SHUTTLE_BIN_DIR/cnitool")
KIT_QUIET=1
source "$ROOT/tools/cluster/kit.sh"

# `cmd | contains PATTERN`: reads all of cmd's output first (grep -q would exit early and,
# under pipefail, fail the pipeline through cmd's SIGPIPE).
contains() {
    local text
    text=$(cat)
    grep -q -- "$1" <<<"$text"
}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

kit_node_add n1
node_ns=$(kit_node_netns n1)
confdir=$(kit_node_conf_dir n1)

cat >"$confdir/10-sh031.conflist" <<'JSON'
{"cniVersion":"0.3.1","name":"sh031","plugins":[
  {"type":"shuttle","mtu":1400,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.99.31.0/24"}]]}},
  {"type":"portmap","capabilities":{"portMappings":true}}]}
JSON
cat >"$confdir/20-sh100.conflist" <<'JSON'
{"cniVersion":"1.0.0","name":"sh100","plugins":[
  {"type":"shuttle","capabilities":{"bandwidth":true},"mtu":1400,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.99.100.0/24"}]]}},
  {"type":"tuning","sysctl":{"net.ipv4.conf.eth0.arp_announce":"2"}},
  {"type":"bandwidth","capabilities":{"bandwidth":true}}]}
JSON

# cnitool_run COMMAND NETWORK POD -> OUT, RC (inside the node, as a runtime would run it)
cnitool_run() {
    set +e
    OUT=$(kit_node_exec n1 NETCONFPATH=/etc/cni/net.d CNI_PATH=/opt/cni/bin CNI_IFNAME=eth0 \
        CAP_ARGS='{"portMappings":[{"hostPort":18081,"containerPort":80,"protocol":"tcp"}],
                   "bandwidth":{"ingressRate":8000000,"ingressBurst":1000000,"egressRate":8000000,"egressBurst":1000000}}' \
        "$cnitool" "$1" "$2" "$(kit_pod_path "$3")" 2>&1)
    RC=$?
    set -e
}

node_clean() {  # NETWORK
    [ -z "$(ip -n "$node_ns" -o link show 2>/dev/null | grep ' sh[0-9a-f]\{13\}')" ] || fail "host veth left"
    [ -z "$(ip -n "$node_ns" -4 route show 2>/dev/null | grep 'dev sh')" ] || fail "host route left"
    [ -z "$(kit_node_exec n1 sh -c "ls /var/lib/cni/networks/$1 2>/dev/null | grep '^[0-9]'")" ] ||
        fail "reservation left"
    [ -z "$(kit_node_exec n1 sh -c "ls /var/lib/cni/shuttle/$1 2>/dev/null")" ] || fail "record left"
    [ -z "$(kit_node_exec n1 sh -c "ls /var/lib/cni/results 2>/dev/null | grep $1")" ] || fail "cnitool cache left"
}

for net in sh031 sh100; do
    kit_pod_add "$net"
    cnitool_run add "$net" "$net"
    [ "$RC" = 0 ] || fail "cnitool add $net: $OUT"
    version=$(echo "$OUT" | jq -r .cniVersion)
    address=$(echo "$OUT" | jq -r '.ips[0].address')
    case $net in
    sh031) [ "$version/$address/$(echo "$OUT" | jq -r '.ips[0].version')" = "0.3.1/10.99.31.2/24/4" ] ||
               fail "0.3.1 result: $OUT" ;;
    sh100) [ "$version/$address/$(echo "$OUT" | jq -r '.ips[0].version')" = "1.0.0/10.99.100.2/24/null" ] ||
               fail "1.0.0 result: $OUT" ;;
    esac
    kit_pod_exec "$net" ip -4 addr show eth0 2>/dev/null | contains "inet $address" || fail "pod address"
    kit_pod_exec "$net" ping -c1 -W2 "${address%.*}.1" >/dev/null || fail "pod -> node"
    # the plugin ran with its defaults: records in /var/lib/cni/shuttle, pins in the node's bpffs
    kit_node_exec n1 sh -c "ls /var/lib/cni/shuttle/$net/*-eth0.json" >/dev/null || fail "no attachment record"
    case $net in  # sh100 shapes egress (bandwidth chained): TCX; sh031: tc
    sh100) kit_node_exec n1 sh -c 'ls -d /sys/fs/bpf/shuttle/v*/links/ingress/sh*' >/dev/null ||
        fail "no TCX link for a shaped pod" ;;
    sh031) kit_node_exec n1 sh -c 'for d in /sys/class/net/sh*; do tc filter show dev "${d##*/}" ingress; done' |
        contains from_pod || fail "from_pod is attached to no host veth" ;;
    esac

    cnitool_run check "$net" "$net"
    case $net in
    sh031) [ "$RC" != 0 ] && echo "$OUT" | contains 'does not support the CHECK command' ||
               fail "libcni should refuse CHECK at 0.3.1: rc=$RC $OUT" ;;
    sh100) [ "$RC" = 0 ] || fail "cnitool check $net: $OUT" ;;
    esac
    cnitool_run del "$net" "$net"
    [ "$RC" = 0 ] || fail "cnitool del $net: $OUT"
    cnitool_run del "$net" "$net"
    [ "$RC" = 0 ] || fail "second cnitool del $net: $OUT"
    node_clean "$net"
    pass "cnitool add/check/del with $net ($version)"
done

# --- the shipped conflist (tools/install/10-shuttle.conflist) with every default path -------
# flannel's subnet.env in the node's /run, host-local's store in the node's /var/lib/cni.
kit_node_exec n1 sh -c 'mkdir -p /run/flannel && printf "%s\n" FLANNEL_NETWORK=10.244.0.0/16 \
    FLANNEL_SUBNET=10.244.7.1/24 FLANNEL_MTU=1450 FLANNEL_IPMASQ=true >/run/flannel/subnet.env'
cp "$ROOT/tools/install/10-shuttle.conflist" "$confdir/"
kit_pod_add cbr0
cnitool_run add cbr0 cbr0
[ "$RC" = 0 ] || fail "cnitool add cbr0: $OUT"
[ "$(echo "$OUT" | jq -c '[.ips[0].address, [.routes[].dst]]')" = '["10.244.7.2/24",["0.0.0.0/0","10.244.0.0/16"]]' ] ||
    fail "shipped conflist result: $OUT"
hex() { od -An -tx1 | tr -d ' \n'; }
[ "$(kit_node_exec n1 cat /var/lib/cni/networks/cbr0/10.244.7.2 | tail -c 6 | hex)" = "$(printf '\r\neth0' | hex)" ] ||
    fail "host-local store entry in /var/lib/cni/networks/cbr0"
[ "$(kit_pod_exec cbr0 ip -j link show eth0 2>/dev/null | jq '.[0].mtu')" = 1450 ] ||
    fail "FLANNEL_MTU"
cnitool_run del cbr0 cbr0
[ "$RC" = 0 ] || fail "cnitool del cbr0: $OUT"
node_clean cbr0
pass "cnitool with the shipped conflist: subnet.env, host-local store and records at their defaults"
