#!/usr/bin/env bash
# shuttled against etcd over TLS with client certificates made by openssl here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/etcd_lib.sh"
bin=${SHUTTLE_BIN_DIR:-$here/../../build/bin}
# Control plane only: these run in the root namespace without root (the datapath is tested in
# tests/cluster/agent_*.sh, inside kit nodes).
export SHUTTLED_DATAPATH=false

ETCD_SCHEME=https etcd_setup shuttled-tls
make_certs "$WORK"
ETCD_EXTRA=(--cert-file "$WORK/server.crt" --key-file "$WORK/server.key"
    --trusted-ca-file "$WORK/ca.crt" --client-cert-auth)
ETCDCTL_EXTRA=(--cacert "$WORK/ca.crt" --cert "$WORK/client.crt" --key "$WORK/client.key")
etcd_start
etcdctl --endpoints="$ETCD_URL" "${ETCDCTL_EXTRA[@]}" put /coreos.com/network/config \
    '{"Network":"10.60.0.0/16","Backend":{"Type":"vxlan"}}' >/dev/null

port=$(free_port)
"$bin/shuttled" --etcd-endpoints "$ETCD_URL" --etcd-cafile "$WORK/ca.crt" \
    --etcd-certfile "$WORK/client.crt" --etcd-keyfile "$WORK/client.key" \
    --iface lo --public-ip 192.0.2.20 --subnet-file "$WORK/subnet.env" \
    --healthz-addr "127.0.0.1:$port" >>"$WORK/tls.log" 2>&1 &
track_pid $!
wait_for "ready over TLS" curl -sf "http://127.0.0.1:$port/readyz"
etcdctl --endpoints="$ETCD_URL" "${ETCDCTL_EXTRA[@]}" get --prefix /coreos.com/network/subnets/ |
    grep -q '"PublicIP":"192.0.2.20"' || fail "no lease written over TLS"
grep -q '^FLANNEL_SUBNET=10\.60\.' "$WORK/subnet.env"

# Without a client certificate etcd refuses it: never ready, and /readyz says why.
port2=$(free_port)
"$bin/shuttled" --etcd-endpoints "$ETCD_URL" --etcd-cafile "$WORK/ca.crt" \
    --iface lo --public-ip 192.0.2.21 --subnet-file "$WORK/refused.env" \
    --healthz-addr "127.0.0.1:$port2" >>"$WORK/refused.log" 2>&1 &
track_pid $!
wait_for "refused node answers" curl -s "http://127.0.0.1:$port2/healthz"
wait_for "refused node reports etcd" bash -c \
    "curl -s http://127.0.0.1:$port2/readyz | grep -q '^last error: etcd: etcd unreachable: https'"
curl -s "http://127.0.0.1:$port2/readyz" | grep -q '^etcd: unreachable'
[[ ! -e $WORK/refused.env ]] || fail "subnet.env written without a certificate"

# The server's name is checked too (libcurl's host verification, never turned off): the
# server certificate names IP:127.0.0.1 only, so the same etcd as https://localhost:<port>,
# with the right CA and client certificate, is refused.
port3=$(free_port)
"$bin/shuttled" --etcd-endpoints "${ETCD_URL/127.0.0.1/localhost}" --etcd-cafile "$WORK/ca.crt" \
    --etcd-certfile "$WORK/client.crt" --etcd-keyfile "$WORK/client.key" \
    --iface lo --public-ip 192.0.2.22 --subnet-file "$WORK/misnamed.env" \
    --healthz-addr "127.0.0.1:$port3" >>"$WORK/misnamed.log" 2>&1 &
track_pid $!
wait_for "misnamed node reports the certificate" bash -c \
    "curl -s http://127.0.0.1:$port3/readyz | grep -q '^last error: etcd: etcd unreachable: https://localhost:.*SSL peer certificate'"
[[ ! -e $WORK/misnamed.env ]] || fail "subnet.env written through a certificate of another name"
echo "agent_shuttled_tls: ok"
