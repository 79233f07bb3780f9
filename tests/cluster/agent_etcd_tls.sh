#!/usr/bin/env bash
# The cluster on an etcd that takes only TLS clients with certificates (made by openssl
# here): shuttled on two nodes with --etcd-cafile/--etcd-certfile/--etcd-keyfile leases,
# builds its datapath and carries pod traffic; a shuttled without a client certificate is
# refused and says so in /readyz.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

kit_cluster_up 2
certs=$(kit_run_dir)/certs
mkdir -p "$certs"
(
  cd "$certs"
  k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
  openssl req -x509 $k -keyout ca.key -out ca.crt -days 1 -subj /CN=shuttle-kit-ca
  for who in server client; do
    openssl req $k -keyout $who.key -out $who.csr -subj /CN=$who
    printf 'subjectAltName=IP:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' \
      "$KIT_UNDERLAY_BRIDGE_IP" >$who.ext
    openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
      -extfile $who.ext -out $who.crt
  done
) >"$(kit_run_dir)/openssl.log" 2>&1 || fail "openssl: $(tail -3 "$(kit_run_dir)/openssl.log")"
endpoint=https://$KIT_UNDERLAY_BRIDGE_IP:2379
nsenter --net="/run/netns/$(kit_underlay_netns)" -- \
  etcd --name tls --data-dir "$(kit_run_dir)/etcd-tls" \
  --listen-client-urls "$endpoint" --advertise-client-urls "$endpoint" \
  --cert-file "$certs/server.crt" --key-file "$certs/server.key" \
  --trusted-ca-file "$certs/ca.crt" --client-cert-auth \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster tls=http://127.0.0.1:2380 --heartbeat-interval 10 --election-timeout 100 \
  </dev/null >"$(kit_run_dir)/etcd-tls.log" 2>&1 &
etcd_pid=$!
kit_on_exit "kill $etcd_pid 2>/dev/null; wait $etcd_pid 2>/dev/null"
tls=(--cacert "$certs/ca.crt" --cert "$certs/client.crt" --key "$certs/client.key")
wait_until 20 "TLS etcd healthy" eval 'kit_underlay_exec curl -sf "${tls[@]}" "$endpoint/health" | grep -q "\"health\":\"true\""'
kit_underlay_exec ETCDCTL_API=3 etcdctl --endpoints="$endpoint" --cacert "$certs/ca.crt" \
  --cert "$certs/client.crt" --key "$certs/client.key" \
  put /coreos.com/network/config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}' >/dev/null
POD_CONF=$(kit_run_dir)/pod.conf
echo '{"cniVersion": "1.0.0", "name": "cbr0", "type": "shuttle", "subnetFile": "/run/flannel/subnet.env", "ipMasq": false}' >"$POD_CONF"

for n in n1 n2; do
  kit_node_spawn "$n" "$(kit_run_dir)/shuttled-$n.log" "$bin/shuttled" --iface eth0 \
    --etcd-endpoints "$endpoint" --etcd-cafile "$certs/ca.crt" \
    --etcd-certfile "$certs/client.crt" --etcd-keyfile "$certs/client.key"
done
for n in n1 n2; do wait_ready "$n"; done
ip1=$(add_pod n1 t1)
ip2=$(add_pod n2 t2)
wait_until 10 "t1 -> t2 over the overlay" pod_ping t1 "$ip2" 1
assert_ok "t2 -> t1" pod_ping t2 "$ip1"
pass "leases over TLS with client certificates; pods on two nodes talk"

kit_node_add n3 # a third node whose agent has no client certificate
kit_node_spawn n3 "$(kit_run_dir)/shuttled-n3.log" "$bin/shuttled" --iface eth0 \
  --etcd-endpoints "$endpoint" --etcd-cafile "$certs/ca.crt"
sleep 3
assert_fails "n3 not ready without a client certificate" kit_node_exec n3 curl -sf http://127.0.0.1:9465/readyz
assert_contains "$(readyz n3)" "lease: not held" "/readyz says why"
pass "no client certificate, no lease"
