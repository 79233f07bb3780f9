# shellcheck shell=bash
# Benchmark setups: each builds a client pod and a server pod on the kit and sets
# BENCH_CLIENT[<setup>], BENCH_SERVER[<setup>] (pod names) and BENCH_SERVER_IP[<setup>].
# A new setup is one function `setup_<name>` here; bench.sh --setups picks them.
#
# IPv6 rows: `<setup>-v6` (limit-v6, bridge-v6, shuttle-v6, underlay-v6, flannel-v6,
# shuttle-x-v6) is the same setup measured over IPv6. bench.sh sets BENCH_DUAL_STACK=1 when any is asked for: the
# setups are then built dual-stack (both families on the same pods, nodes and devices, the
# underlay too) and record BENCH_SERVER_IP6[<setup>]; `<setup>-v6` reuses those pods with the
# server's IPv6 address (setup_v6_of). The IPv4 rows of such a run are dual-stack pods too.

declare -gA BENCH_CLIENT=() BENCH_SERVER=() BENCH_SERVER_IP=() BENCH_SERVER_IP6=() BENCH_BUILT=()
BENCH_DUAL_STACK=${BENCH_DUAL_STACK:-0}

# setup_v6_of <setup>: the IPv6 row of <setup> (built here when its IPv4 row is not asked for).
setup_v6_of() {
  local base=$1
  [[ -n ${BENCH_BUILT[$base]:-} ]] || { "setup_$base"; BENCH_BUILT[$base]=1; }
  [[ -n ${BENCH_SERVER_IP6[$base]:-} ]] || kit_die "$base-v6: the $base setup has no IPv6 server address"
  BENCH_CLIENT[$base-v6]=${BENCH_CLIENT[$base]} BENCH_SERVER[$base-v6]=${BENCH_SERVER[$base]}
  BENCH_SERVER_IP[$base-v6]=${BENCH_SERVER_IP6[$base]}
  # Polled: one lost first ping (neighbour discovery on a loaded machine) is no failure.
  bench_wait 10 kit_pod_exec "${BENCH_CLIENT[$base]}" ping -6 -c 1 -W 1 "${BENCH_SERVER_IP6[$base]}" ||
    kit_die "$base-v6: the client pod cannot reach ${BENCH_SERVER_IP6[$base]} within 10 s"
}
setup_limit-v6() { setup_v6_of limit; }
setup_bridge-v6() { setup_v6_of bridge; }
setup_shuttle-v6() { setup_v6_of shuttle; }
setup_underlay-v6() { setup_v6_of underlay; }
setup_flannel-v6() { setup_v6_of flannel; }
# shuttle-x-v6: direct mode's shuttled over IPv6 (non-GSO IPv6 on the direct path both ways,
# GSO through shuttle.1), the one cross-node shuttle IPv6 row.
setup_shuttle-x-v6() { setup_v6_of shuttle-x; }

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
  if ((BENCH_DUAL_STACK)); then
    ip -n "$c" addr add fd00:99::1/64 dev eth0 nodad
    ip -n "$s" addr add fd00:99::2/64 dev eth0 nodad
    BENCH_SERVER_IP6[limit]=fd00:99::2
  fi
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
  if ((BENCH_DUAL_STACK)); then # kube-proxy in dual-stack: the same rules for IPv6 Services
    kit_node_exec "$node" sysctl -qw net.ipv6.conf.all.forwarding=1
    bench_kube_proxy_rules "$services" 6 | kit_node_exec "$node" ip6tables-restore
  fi
}

# iptables-restore input shaped like kube-proxy's (iptables mode): per service a
# KUBE-SERVICES match jumping to a KUBE-SVC chain that DNATs to one backend.
bench_kube_proxy_rules() { # services [6: IPv6 ClusterIPs and backends]
  local services=$1 family=${2:-4} i dst backend
  echo '*nat'
  echo ':KUBE-SERVICES - [0:0]'
  for ((i = 0; i < services; i++)); do printf ':KUBE-SVC-%012X - [0:0]\n' "$i"; done
  echo '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
  echo '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
  for ((i = 0; i < services; i++)); do
    if ((family == 6)); then
      printf -v dst 'fd00:96::%x/128' $((i + 1)) # printf -v: no fork per rule
      printf -v backend '[fd00:244:200::%x]:8080' $((i % 250 + 1))
    else
      dst=10.96.$((i / 250)).$((i % 250 + 1))/32 backend=10.244.200.$((i % 250 + 1)):8080
    fi
    printf -- '-A KUBE-SERVICES -d %s -p tcp -m tcp --dport 80 -j KUBE-SVC-%012X\n' "$dst" "$i"
    printf -- '-A KUBE-SVC-%012X -p tcp -j DNAT --to-destination %s\n' "$i" "$backend"
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
  bench_server_ips "$setup" "$out"
}

# bench_server_ips <setup> <CNI result>: the server's address of each family.
bench_server_ips() {
  BENCH_SERVER_IP[$1]=$(jq -r '[.ips[].address | select(contains(":") | not)][0] // empty' <<<"$2" | cut -d/ -f1)
  BENCH_SERVER_IP6[$1]=$(jq -r '[.ips[].address | select(contains(":"))][0] // empty' <<<"$2" | cut -d/ -f1)
  ((!BENCH_DUAL_STACK)) || [[ -n ${BENCH_SERVER_IP6[$1]} ]] || kit_die "$1: the CNI result has no IPv6 address: $2"
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
  # dual-stack: host-local's two range sets, the bridge's gateways of both families
  ((!BENCH_DUAL_STACK)) || bench_conf_dual_stack "$conf" 10.244.1.0/24 fd00:244:1::/64 '[{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]'
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
    ((!BENCH_DUAL_STACK)) || bench_conf_dual_stack "$conf" 10.244.2.0/24 fd00:244:2::/64 '[]'
  fi
  bench_cni_pods shuttle sh "$conf"
  bench_note "shuttle: $(bench_shuttle_datapath sh)"
}

# What carries the shuttle setup's pod traffic: the eBPF datapath (attach mode per veth,
# from shuttlectl) or, without pins in the node, the plugin's host routes alone.
bench_shuttle_datapath() { # node
  local status
  if ! status=$(kit_node_exec "$1" "$SHUTTLE_BIN_DIR/shuttlectl" --json status 2>/dev/null); then
    echo "no eBPF datapath pinned in the node: host routing only"
    return
  fi
  jq -r '[.attachments // [] | .[] | "\(.mode // "?")\(if .attached == false then " (not attached)" else "" end)"]
         | if length == 0 then "eBPF datapath pinned, no endpoint attached" else "eBPF datapath attached to \(length) pod veths: \(unique | join(", "))" end' \
    <<<"$status" 2>/dev/null || echo "eBPF datapath pinned (shuttlectl status unreadable)"
}

# bench_conf_dual_stack <conf file> <IPv4 subnet> <IPv6 subnet> <routes JSON>: host-local's
# dual-stack form (one range set per family) in place of the IPv4 `subnet`.
bench_conf_dual_stack() {
  local tmp
  tmp=$(jq --arg v4 "$2" --arg v6 "$3" --argjson routes "$4" \
    '.ipam |= (del(.subnet) | .ranges = [[{subnet: $v4}], [{subnet: $v6}]] | .routes = ((.routes // []) + $routes | unique))' "$1")
  echo "$tmp" >"$1"
}

# A line for the report's notes (results.md, and suite.sh's report).
bench_note() { echo "$*" >>"$BENCH_OUT/notes.txt"; }

# Cross-node setups. Pods on two nodes; the path between the nodes is the kit's underlay
# (node eth0 -> veth -> bridge br0 in the underlay namespace -> veth -> node eth0).

# The underlay limit: two namespaces plugged straight into the underlay bridge, i.e. the
# node-to-node path with no pod network on top.
setup_underlay() {
  if ((BENCH_DUAL_STACK)); then
    kit_underlay_dual_stack
    kit_underlay_host ul-c "$KIT_UNDERLAY_NET.201" "$KIT_UNDERLAY_NET6:201"
    kit_underlay_host ul-s "$KIT_UNDERLAY_NET.202" "$KIT_UNDERLAY_NET6:202"
    BENCH_SERVER_IP6[underlay]=$KIT_UNDERLAY_NET6:202
  else
    kit_underlay_host ul-c "$KIT_UNDERLAY_NET.201"
    kit_underlay_host ul-s "$KIT_UNDERLAY_NET.202"
  fi
  BENCH_CLIENT[underlay]=ul-c BENCH_SERVER[underlay]=ul-s BENCH_SERVER_IP[underlay]=$KIT_UNDERLAY_NET.202
}

# flannel-style: on each of two Kubernetes-like nodes, Debian's bridge plugin + host-local
# on the node's /24 (cni0, as flannel's CNI config delegates), and a kernel VXLAN device
# configured exactly as flanneld's vxlan backend does: flannel.1 (VNI 1, port 8472,
# nolearning, MTU 1450) with <subnet>.0/32, and per peer a permanent neighbour entry for
# the peer's <subnet>.0, an FDB entry to its public IP and an onlink route for its subnet.
# Dual-stack (BENCH_DUAL_STACK=1) as flanneld's dual-stack vxlan backend (EnableIPv6): a
# second device flannel-v6.1 (VNI 1, port 8472, local = the node's PublicIPv6, nolearning,
# MTU underlay - 70 = 1430, its own VtepMAC) with <v6 subnet>::/128, and per peer the same
# three entries for the peer's IPv6 subnet (fd00:245:0:<i>::/64 in fd00:245::/56) and
# PublicIPv6; the bridge's host-local gets an IPv6 range set.
setup_flannel() {
  local nodes=(fl1 fl2) i j node conf out
  ((!BENCH_DUAL_STACK)) || kit_underlay_dual_stack
  for i in 0 1; do
    node=${nodes[i]}
    kit_node_add "$node"
    bench_prepare_node "$node" "$BENCH_KUBE_SERVICES"
    bench_flannel_vxlan "$node" "$((i + 1))"
    ((!BENCH_DUAL_STACK)) || bench_flannel_vxlan6 "$node" "$((i + 1))"
  done
  for i in 0 1; do
    for j in 0 1; do
      ((i != j)) || continue
      bench_flannel_peer "${nodes[i]}" "$((j + 1))" "$(kit_node_ip "${nodes[j]}")"
      ((!BENCH_DUAL_STACK)) || bench_flannel_peer6 "${nodes[i]}" "$((j + 1))" "$(kit_node_ip6 "${nodes[j]}")"
    done
  done
  [[ -e /proc/sys/net/bridge ]] || modprobe br_netfilter || kit_die "flannel: br_netfilter is not available"
  for i in 0 1; do
    node=${nodes[i]}
    conf=$(kit_node_conf_dir "$node")/10-flannel.conf
    cat >"$conf" <<JSON
{"cniVersion": "1.0.0", "name": "cbr0", "type": "bridge", "bridge": "cni0", "mtu": 1450,
 "isGateway": true, "isDefaultGateway": true, "ipMasq": false, "hairpinMode": true,
 "ipam": {"type": "host-local", "subnet": "10.245.$((i + 1)).0/24",
          "routes": [{"dst": "10.245.0.0/16"}]}}
JSON
    ((!BENCH_DUAL_STACK)) || bench_conf_dual_stack "$conf" "10.245.$((i + 1)).0/24" \
      "fd00:245:0:$((i + 1))::/64" '[{"dst": "fd00:245::/56"}]'
    kit_node_exec "$node" sysctl -qw net.bridge.bridge-nf-call-iptables=1
  done
  kit_pod_add flannel-c
  kit_pod_add flannel-s
  kit_cni fl1 ADD bench-flannel-c flannel-c eth0 "$(kit_node_conf_dir fl1)/10-flannel.conf" >/dev/null ||
    kit_die "flannel: CNI ADD of the client pod failed"
  out=$(kit_cni fl2 ADD bench-flannel-s flannel-s eth0 "$(kit_node_conf_dir fl2)/10-flannel.conf") ||
    kit_die "flannel: CNI ADD of the server pod failed: $out"
  for node in "${nodes[@]}"; do kit_node_exec "$node" sysctl -qw net.bridge.bridge-nf-call-iptables=1; done
  BENCH_CLIENT[flannel]=flannel-c BENCH_SERVER[flannel]=flannel-s
  bench_server_ips flannel "$out"
  kit_pod_exec flannel-c ping -c 1 -W 2 "${BENCH_SERVER_IP[flannel]}" >/dev/null ||
    kit_die "flannel: the client pod cannot reach the server pod across the VXLAN"
}

bench_flannel_mac() { printf '0e:00:00:00:00:%02x' "$1"; }

bench_flannel_vxlan() { # node index
  local node=$1 i=$2 n
  n=$(kit_node_netns "$node")
  ip -n "$n" link add flannel.1 type vxlan id 1 local "$(kit_node_ip "$node")" dev eth0 \
    dstport 8472 nolearning
  ip -n "$n" link set flannel.1 address "$(bench_flannel_mac "$i")" mtu 1450 up
  ip -n "$n" addr add "10.245.$i.0/32" dev flannel.1
}

bench_flannel_mac6() { printf '0e:00:00:00:06:%02x' "$1"; }

bench_flannel_vxlan6() { # node index
  local node=$1 i=$2 n
  n=$(kit_node_netns "$node")
  ip -n "$n" link add flannel-v6.1 type vxlan id 1 local "$(kit_node_ip6 "$node")" dev eth0 \
    dstport 8472 nolearning
  ip -n "$n" link set flannel-v6.1 address "$(bench_flannel_mac6 "$i")" mtu 1430 up
  ip -n "$n" addr add "fd00:245:0:$i::/128" dev flannel-v6.1 nodad
}

bench_flannel_peer6() { # node peer-index peer-public-ipv6
  local n mac
  n=$(kit_node_netns "$1")
  mac=$(bench_flannel_mac6 "$2")
  ip -n "$n" neigh replace "fd00:245:0:$2::" lladdr "$mac" dev flannel-v6.1 nud permanent
  bridge -n "$n" fdb append "$mac" dev flannel-v6.1 dst "$3" self permanent
  ip -n "$n" -6 route add "fd00:245:0:$2::/64" via "fd00:245:0:$2::" dev flannel-v6.1 onlink
}

bench_flannel_peer() { # node peer-index peer-public-ip
  local n mac
  n=$(kit_node_netns "$1")
  mac=$(bench_flannel_mac "$2")
  ip -n "$n" neigh replace "10.245.$2.0" lladdr "$mac" dev flannel.1 nud permanent
  bridge -n "$n" fdb append "$mac" dev flannel.1 dst "$3" self permanent
  ip -n "$n" route add "10.245.$2.0/24" via "10.245.$2.0" dev flannel.1 onlink
}

# shuttle across two nodes: shuttled in each node with --static-nodes (both nodes listed,
# no etcd: the routes map, the collect_md VXLAN device shuttle.1 and the overlay programs
# come from the file), pods added by the real plugin from the subnet.env shuttled writes,
# one pod per node; the same kube-proxy-style rules as the other nodes. shuttle-x runs
# shuttled's default overlay mode (direct: from_pod encapsulates, from_underlay on eth0
# decapsulates), shuttle-x-dev `--overlay device` (every packet through shuttle.1).
# Dual-stack: each node's entry has its IPv6Subnet (fd00:<net>:0:<i>::/64 in fd00:<net>::/56)
# and PublicIPv6 (the node's fd77:: address), so shuttle.1 carries the pods' IPv6 as well.
setup_shuttle-x() { bench_shuttle_cross shuttle-x direct sx 10.246; }
setup_shuttle-x-dev() { bench_shuttle_cross shuttle-x-dev device sd 10.247; }

bench_shuttle_cross() { # setup overlay-mode node-prefix network-/16-prefix
  local setup=$1 mode=$2 prefix=$3 net=$4
  [[ -x ${SHUTTLE_BIN_DIR:-}/shuttled ]] || kit_die "$setup: no shuttled at \$SHUTTLE_BIN_DIR (build first)"
  local nodes=("${prefix}1" "${prefix}2") i node entries=() file conf out net6 v6=
  net6=fd00:${net#10.}  # 10.246 -> fd00:246
  ((!BENCH_DUAL_STACK)) || kit_underlay_dual_stack
  for i in 0 1; do
    node=${nodes[i]}
    kit_node_add "$node"
    bench_prepare_node "$node" "$BENCH_KUBE_SERVICES"
    ((!BENCH_DUAL_STACK)) || v6=",\"IPv6Subnet\":\"$net6:0:$((i + 1))::/64\",\"PublicIPv6\":\"$(kit_node_ip6 "$node")\""
    entries+=("{\"subnet\":\"$net.$((i + 1)).0/24\",\"PublicIP\":\"$(kit_node_ip "$node")\",\"VtepMAC\":\"$(bench_shuttle_mac "$((i + 1))")\",\"VNI\":1$v6}")
  done
  file=$(kit_run_dir)/$setup-nodes.json
  v6=
  ((!BENCH_DUAL_STACK)) || v6=",\"IPv6Network\":\"$net6::/56\""
  (IFS=,; echo "{\"Network\":\"$net.0.0/16\"$v6,\"Nodes\":[${entries[*]}]}") >"$file"
  for node in "${nodes[@]}"; do
    kit_node_spawn "$node" "$BENCH_OUT/logs/shuttled-$node.log" \
      "$SHUTTLE_BIN_DIR/shuttled" --static-nodes "$file" --iface eth0 --overlay "$mode"
  done
  for node in "${nodes[@]}"; do
    bench_wait 20 kit_node_exec "$node" curl -sf --max-time 2 http://127.0.0.1:9465/readyz ||
      kit_die "$setup: shuttled in $node not ready after 20 s: $(tail -5 "$BENCH_OUT/logs/shuttled-$node.log")"
  done
  conf=$(kit_run_dir)/$setup.conf
  echo '{"cniVersion": "1.0.0", "name": "cbr0", "type": "shuttle", "subnetFile": "/run/flannel/subnet.env", "ipMasq": false}' >"$conf"
  kit_pod_add "$prefix-c"
  kit_pod_add "$prefix-s"
  kit_cni "${nodes[0]}" ADD "bench-$prefix-c" "$prefix-c" eth0 "$conf" >/dev/null || kit_die "$setup: CNI ADD of the client pod failed"
  out=$(kit_cni "${nodes[1]}" ADD "bench-$prefix-s" "$prefix-s" eth0 "$conf") || kit_die "$setup: CNI ADD of the server pod failed: $out"
  BENCH_CLIENT[$setup]=$prefix-c BENCH_SERVER[$setup]=$prefix-s
  bench_server_ips "$setup" "$out"
  bench_wait 10 kit_pod_exec "$prefix-c" ping -c 1 -W 1 "${BENCH_SERVER_IP[$setup]}" ||
    kit_die "$setup: the client pod cannot reach the server pod across the overlay"
  bench_note "$setup: client node $(bench_shuttle_datapath "${nodes[0]}"); $(bench_overlay_mode "${nodes[0]}"); routes map of ${nodes[0]}: $(kit_node_exec "${nodes[0]}" "$SHUTTLE_BIN_DIR/shuttlectl" --json routes | jq -c '[.[].subnet]')$(bench_ipv6_routes "${nodes[0]}")"
}

# With IPv6: the IPv6 routes shuttle.1 holds on the node (its peers' IPv6 subnets).
bench_ipv6_routes() { # node
  ((BENCH_DUAL_STACK)) || return 0
  echo "; IPv6 routes on shuttle.1: $(kit_node_exec "$1" ip -6 route show dev shuttle.1 | grep -c 'encap ip6')"
}

# The overlay mode in force on a node, as shuttled's /readyz says it (fallbacks included).
bench_overlay_mode() { # node
  kit_node_exec "$1" curl -s --max-time 2 http://127.0.0.1:9465/readyz | grep -o 'overlay \(direct\|device\)[^,]*' | head -1
}

bench_shuttle_mac() { printf '0e:00:00:00:01:%02x' "$1"; }

# bench_wait <seconds> <command...>: until it succeeds (0.2 s apart); 1 on timeout.
bench_wait() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
