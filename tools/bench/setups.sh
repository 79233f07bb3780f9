# shellcheck shell=bash
# Benchmark setups: each builds a client pod and a server pod on the kit and sets
# BENCH_CLIENT[<setup>], BENCH_SERVER[<setup>] (pod names) and BENCH_SERVER_IP[<setup>].
# A new setup is one function `setup_<name>` here; bench.sh --setups picks them.

declare -gA BENCH_CLIENT=() BENCH_SERVER=() BENCH_SERVER_IP=()

# The limit: two namespaces joined by one veth pair, nothing in between.
setup_limit() {
  kit_pod_add limit-c
  kit_pod_add limit-s
  local c s
  c=$(kit_pod_netns limit-c)
  s=$(kit_pod_netns limit-s)
  ip -n "$c" link add eth0 type veth peer name eth0 netns "$s"
  ip -n "$c" addr add 10.99.0.1/24 dev eth0
  ip -n "$s" addr add 10.99.0.2/24 dev eth0
  ip -n "$c" link set eth0 up
  ip -n "$s" link set eth0 up
  BENCH_CLIENT[limit]=limit-c BENCH_SERVER[limit]=limit-s BENCH_SERVER_IP[limit]=10.99.0.2
}

# A Kubernetes-like node: br_netfilter on for bridged traffic, kube-proxy's nat skeleton
# (so conntrack and the nat hooks are live) plus <services> ClusterIP rules.
bench_prepare_node() {
  local node=$1 services=$2
  kit_node_exec "$node" sysctl -qw net.ipv4.ip_forward=1
  bench_kube_proxy_rules "$services" | kit_node_exec "$node" iptables-restore
}

# iptables-restore input shaped like kube-proxy's (iptables mode): per service a
# KUBE-SERVICES match jumping to a KUBE-SVC chain that DNATs to one backend.
bench_kube_proxy_rules() {
  local services=$1 i
  echo '*nat'
  echo ':KUBE-SERVICES - [0:0]'
  for ((i = 0; i < services; i++)); do printf ':KUBE-SVC-%012X - [0:0]\n' "$i"; done
  echo '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
  echo '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
  for ((i = 0; i < services; i++)); do
    printf -- '-A KUBE-SERVICES -d 10.96.%d.%d/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-%012X\n' \
      $((i / 250)) $((i % 250 + 1)) "$i"
    printf -- '-A KUBE-SVC-%012X -p tcp -j DNAT --to-destination 10.244.200.%d:8080\n' "$i" $((i % 250 + 1))
  done
  echo 'COMMIT'
  echo '*filter'
  echo ':KUBE-FORWARD - [0:0]'
  echo '-A FORWARD -j KUBE-FORWARD'
  echo '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP'
  echo '-A KUBE-FORWARD -j ACCEPT'
  echo 'COMMIT'
}

# Two pods on one node through a CNI plugin run by the kit, as a runtime would.
bench_cni_pods() {
  local setup=$1 node=$2 conf=$3 out
  kit_pod_add "$setup-c"
  kit_pod_add "$setup-s"
  kit_cni "$node" ADD "bench-$setup-c" "$setup-c" eth0 "$conf" >/dev/null ||
    kit_die "$setup: CNI ADD of the client pod failed"
  out=$(kit_cni "$node" ADD "bench-$setup-s" "$setup-s" eth0 "$conf") ||
    kit_die "$setup: CNI ADD of the server pod failed: $out"
  BENCH_CLIENT[$setup]=$setup-c BENCH_SERVER[$setup]=$setup-s
  BENCH_SERVER_IP[$setup]=$(jq -r '.ips[0].address' <<<"$out" | cut -d/ -f1)
}

# Debian's bridge plugin with host-local, on a node with br_netfilter on.
setup_bridge() {
  kit_node_add br
  bench_prepare_node br "$BENCH_KUBE_SERVICES"
  local conf
  conf=$(kit_node_conf_dir br)/10-bridge.conf
  cat >"$conf" <<'JSON'
{"cniVersion": "1.0.0", "name": "bench-bridge", "type": "bridge", "bridge": "cni0",
 "isGateway": true, "ipMasq": false,
 "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "routes": [{"dst": "0.0.0.0/0"}]}}
JSON
  [[ -e /proc/sys/net/bridge ]] || modprobe br_netfilter ||
    kit_die "bridge: br_netfilter is not available"
  kit_node_exec br sysctl -qw net.bridge.bridge-nf-call-iptables=1
  bench_cni_pods bridge br "$conf"
  # The bridge exists now: br_netfilter's sysctl is per namespace; make sure it is on.
  kit_node_exec br sysctl -qw net.bridge.bridge-nf-call-iptables=1
  [[ $(kit_node_exec br cat /proc/sys/net/bridge/bridge-nf-call-iptables) == 1 ]] ||
    kit_die "bridge: br_netfilter is off in the node"
}

# shuttle: the slot for the eBPF datapath. Config from $BENCH_SHUTTLE_CONF when set.
setup_shuttle() {
  [[ -x ${SHUTTLE_BIN_DIR:-}/shuttle ]] || kit_die "shuttle: no plugin at \$SHUTTLE_BIN_DIR/shuttle (build first)"
  kit_node_add sh
  bench_prepare_node sh "$BENCH_KUBE_SERVICES"
  local conf
  conf=$(kit_node_conf_dir sh)/10-shuttle.conf
  if [[ -n ${BENCH_SHUTTLE_CONF:-} ]]; then
    cp "$BENCH_SHUTTLE_CONF" "$conf"
  else
    cat >"$conf" <<'JSON'
{"cniVersion": "1.0.0", "name": "bench-shuttle", "type": "shuttle",
 "ipam": {"type": "host-local", "subnet": "10.244.2.0/24"}}
JSON
  fi
  bench_cni_pods shuttle sh "$conf"
}
