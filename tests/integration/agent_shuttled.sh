#!/usr/bin/env bash
# shuttled against a real etcd on 127.0.0.1: flags from the environment, lease, subnet.env,
# /healthz and /readyz, a second node, etcd going away and back, SIGTERM, restart.
# No root needed; every process is started here and stopped by its PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/etcd_lib.sh"
bin=${SHUTTLE_BIN_DIR:-$here/../../build/bin}

etcd_setup shuttled
etcd_start

etcdctl --endpoints="$ETCD_URL" put /test/net/config \
    '{"Network":"10.50.0.0/16","Backend":{"Type":"vxlan","VNI":1}}' >/dev/null

start_shuttled() {  # name public-ip healthz-port [extra flags]
    local name=$1 ip=$2 port=$3
    shift 3
    SHUTTLED_ETCD_ENDPOINTS="http://127.0.0.1:$(free_port),$ETCD_URL" \
    SHUTTLED_ETCD_PREFIX=/test/net \
    SHUTTLED_SUBNET_FILE="$WORK/$name.env" \
    SHUTTLED_HEALTHZ_ADDR="127.0.0.1:$port" \
        "$bin/shuttled" --iface lo --public-ip "$ip" "$@" >>"$WORK/$name.log" 2>&1 &
    eval "${name}_pid=$!"
    track_pid $!
}

port_a=$(free_port)
port_b=$(free_port)
start_shuttled a 192.0.2.10 "$port_a"
wait_for "node a ready" curl -sf "http://127.0.0.1:$port_a/readyz"
curl -sf "http://127.0.0.1:$port_a/healthz" | grep -qx ok
grep -qx 'FLANNEL_NETWORK=10.50.0.0/16' "$WORK/a.env"
grep -qx 'FLANNEL_MTU=65486' "$WORK/a.env"  # lo's MTU 65536 - 50
grep -qx 'FLANNEL_IPMASQ=false' "$WORK/a.env"
subnet_a=$(sed -n 's/^FLANNEL_SUBNET=\(.*\)\.1\/24$/\1.0-24/p' "$WORK/a.env")
[[ -n $subnet_a ]] || fail "bad FLANNEL_SUBNET in a.env"
value=$(etcdctl --endpoints="$ETCD_URL" get --print-value-only "/test/net/subnets/$subnet_a")
[[ $value =~ ^\{\"PublicIP\":\"192\.0\.2\.10\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":\{\"VNI\":1,\"VtepMAC\":\"[0-9a-f:]{17}\"\}\}$ ]] ||
    fail "lease value not in flannel's format: $value"
key64=$(printf '%s' "/test/net/subnets/$subnet_a" | base64 -w0)
lease_id=$(curl -sf -X POST "$ETCD_URL/v3/kv/range" -d "{\"key\":\"$key64\"}" | jq -r '.kvs[0].lease')
lease_ttl=$(curl -sf -X POST "$ETCD_URL/v3/lease/timetolive" -d "{\"ID\":\"$lease_id\"}" | jq -r .TTL)
((lease_ttl > 86000)) || fail "lease TTL is $lease_ttl, not ~24h"

start_shuttled b 192.0.2.11 "$port_b"
wait_for "node b ready" curl -sf "http://127.0.0.1:$port_b/readyz"
subnet_b=$(sed -n 's/^FLANNEL_SUBNET=\(.*\)\.1\/24$/\1.0-24/p' "$WORK/b.env")
[[ $subnet_a != "$subnet_b" ]] || fail "both nodes got $subnet_a"
wait_for "a sees b" grep -q "1 peer(s): ${subnet_b%-24}/24->192.0.2.11" "$WORK/a.log"
curl -sf "http://127.0.0.1:$port_a/readyz" | grep -qx 'peers: 1'

# etcd away: last state kept, /readyz says so; back: ready again.
etcd_stop
wait_for "a not ready" bash -c "! curl -sf http://127.0.0.1:$port_a/readyz"
curl -s "http://127.0.0.1:$port_a/readyz" | grep -q '^etcd: unreachable'
curl -sf "http://127.0.0.1:$port_a/healthz" >/dev/null
grep -q 'etcd unreachable, keeping the last known state' "$WORK/a.log"
etcd_start
wait_for "a ready again" curl -sf "http://127.0.0.1:$port_a/readyz"

# SIGTERM: clean exit, the lease stays.
kill -TERM "$a_pid"
wait_for "a exits" bash -c "! kill -0 $a_pid 2>/dev/null"
wait "$a_pid" || fail "shuttled exited with $? on SIGTERM"
etcdctl --endpoints="$ETCD_URL" get "/test/net/subnets/$subnet_a" | grep -q 192.0.2.10

# Restart: same subnet.
start_shuttled a 192.0.2.10 "$port_a"
wait_for "a ready after restart" curl -sf "http://127.0.0.1:$port_a/readyz"
grep -qx "FLANNEL_SUBNET=${subnet_a%.0-24}.1/24" "$WORK/a.env" || fail "subnet changed on restart"

# Deleted from outside: re-acquired.
etcdctl --endpoints="$ETCD_URL" del "/test/net/subnets/$subnet_a" >/dev/null
wait_for "a re-acquires" bash -c \
    "etcdctl --endpoints=$ETCD_URL get /test/net/subnets/$subnet_a | grep -q 192.0.2.10"

# Flags: bad values are usage errors (exit 2) naming the flag.
set +e
"$bin/shuttled" --subnet-lease-ttl 5x --iface lo 2>"$WORK/err"; rc=$?
set -e
((rc == 2)) && grep -q -- '--subnet-lease-ttl' "$WORK/err" || fail "bad duration accepted"
# Static nodes (no etcd): this node's entry by PublicIP, the others are peers.
cat >"$WORK/nodes.json" <<'JSON'
[{"subnet":"10.70.1.0/24","PublicIP":"192.0.2.30","VtepMAC":"02:00:00:00:00:30","VNI":1},
 {"subnet":"10.70.2.0/24","PublicIP":"192.0.2.31","VtepMAC":"02:00:00:00:00:31","VNI":1}]
JSON
port_s=$(free_port)
"$bin/shuttled" --static-nodes "$WORK/nodes.json" --etcd-endpoints http://127.0.0.1:1 \
    --iface lo --public-ip 192.0.2.30 --subnet-file "$WORK/static.env" \
    --healthz-addr "127.0.0.1:$port_s" >>"$WORK/static.log" 2>&1 &
static_pid=$!
track_pid $static_pid
wait_for "static node ready" curl -sf "http://127.0.0.1:$port_s/readyz"
grep -qx 'FLANNEL_SUBNET=10.70.1.1/24' "$WORK/static.env"
grep -qx 'FLANNEL_NETWORK=10.70.0.0/22' "$WORK/static.env"
grep -q '1 peer(s): 10.70.2.0/24->192.0.2.31' "$WORK/static.log"
kill -TERM $static_pid
wait $static_pid || fail "static shuttled exited with $?"
echo "agent_shuttled: ok"
