#!/usr/bin/env bash
# shuttled (the binary) on a real etcd with flannel's dual-stack config: --public-ipv6, the
# lease key with its "&<v6>" part, PublicIPv6 and BackendV6Data in flannel's bytes,
# subnet.env's IPv6 lines, the peer's IPv6 half; without a public IPv6 no lease and the reason
# in /readyz. No root needed; every process is started here and stopped by its PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/etcd_lib.sh"
bin=${SHUTTLE_BIN_DIR:-$here/../../build/bin}
export SHUTTLED_DATAPATH=false

etcd_setup shuttled6
etcd_start

etcdctl --endpoints="$ETCD_URL" put /test/net/config \
    '{"Network":"10.50.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:50::/56","Backend":{"Type":"vxlan"}}' >/dev/null

start_shuttled() {  # name public-ip healthz-port [extra flags]
    local name=$1 ip=$2 port=$3
    shift 3
    "$bin/shuttled" --etcd-endpoints "$ETCD_URL" --etcd-prefix /test/net --iface lo \
        --public-ip "$ip" --subnet-file "$WORK/$name.env" --healthz-addr "127.0.0.1:$port" \
        "$@" >>"$WORK/$name.log" 2>&1 &
    eval "${name}_pid=$!"
    track_pid $!
}

port_a=$(free_port)
port_b=$(free_port)
start_shuttled a 192.0.2.10 "$port_a" --public-ipv6 fd77::10
start_shuttled b 192.0.2.11 "$port_b" --public-ipv6 fd77::11
wait_for "node a ready" curl -sf "http://127.0.0.1:$port_a/readyz"
wait_for "node b ready" curl -sf "http://127.0.0.1:$port_b/readyz"

v4=$(sed -n 's/^FLANNEL_SUBNET=\(.*\)\.1\/24$/\1/p' "$WORK/a.env")
v6=$(sed -n 's/^FLANNEL_IPV6_SUBNET=\(.*\)::1\/64$/\1::/p' "$WORK/a.env")
[[ -n $v4 && -n $v6 ]] || fail "a.env lacks a subnet: $(cat "$WORK/a.env")"
[ "$(cat "$WORK/a.env")" = "FLANNEL_NETWORK=10.50.0.0/16
FLANNEL_SUBNET=$v4.1/24
FLANNEL_IPV6_NETWORK=fd00:50::/56
FLANNEL_IPV6_SUBNET=${v6}1/64
FLANNEL_MTU=65486
FLANNEL_IPMASQ=false" ] || fail "a.env not in flannel's dual-stack format: $(cat "$WORK/a.env")"
key="/test/net/subnets/$v4.0-24&$v6-64"
value=$(etcdctl --endpoints="$ETCD_URL" get --print-value-only "$key")
mac='[0-9a-f:]{17}'
[[ $value =~ ^\{\"PublicIP\":\"192\.0\.2\.10\",\"PublicIPv6\":\"fd77::10\",\"BackendType\":\"vxlan\",\"BackendData\":\{\"VNI\":1,\"VtepMAC\":\"$mac\"\},\"BackendV6Data\":\{\"VNI\":1,\"VtepMAC\":\"$mac\"\}\}$ ]] ||
    fail "lease $key not in flannel's dual-stack format: $value"
[ "$(etcdctl --endpoints="$ETCD_URL" get --prefix --keys-only /test/net/subnets/ | grep -c .)" = 2 ] ||
    fail "not one key per node"
curl -s "http://127.0.0.1:$port_a/readyz" | grep -q "lease: held $v4.0/24 $v6/64" || fail "readyz: $(curl -s "http://127.0.0.1:$port_a/readyz")"
wait_for "a sees b's IPv6 half" grep -q 'peer(s): 10\.50\.[0-9]*\.0/24->192\.0\.2\.11 (fd00:50:[0-9a-f:]*/64->fd77::11)' "$WORK/a.log"

# shuttlectl nodes shows both halves of every lease.
nodes=$("$bin/shuttlectl" --json nodes --etcd-endpoints "$ETCD_URL" --etcd-prefix /test/net)
[ "$(echo "$nodes" | jq -r --arg s "$v4.0/24" '.[] | select(.subnet == $s) | [.ipv6_subnet, .PublicIPv6] | join(" ")')" = "$v6/64 fd77::10" ] ||
    fail "shuttlectl nodes: $nodes"
"$bin/shuttlectl" nodes --etcd-endpoints "$ETCD_URL" --etcd-prefix /test/net | grep -q "$v6/64 fd77::10" ||
    fail "shuttlectl nodes table lacks the IPv6 half"

# No global IPv6 on lo and no --public-ipv6: no lease, and /readyz says why.
port_c=$(free_port)
start_shuttled c 192.0.2.12 "$port_c"
wait_for "c names the missing IPv6" bash -c "curl -s http://127.0.0.1:$port_c/readyz | grep -q -- --public-ipv6"
curl -sf "http://127.0.0.1:$port_c/readyz" >/dev/null && fail "c ready without a public IPv6"
[ ! -e "$WORK/c.env" ] || fail "c wrote subnet.env"

for p in $a_pid $b_pid $c_pid; do kill -TERM "$p"; done
wait "$a_pid" || fail "shuttled a exited with $?"
echo "agent_shuttled_dual_stack: ok"
