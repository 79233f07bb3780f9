# shellcheck shell=bash
# Shared by tests/cluster/agent_*.sh: a kit cluster with etcd in the underlay, shuttled in
# each node (default paths inside the node: /run/flannel/subnet.env, /sys/fs/bpf/shuttle,
# /etc/cni/net.d), pods added by the real plugin through kit_cni.
set -euo pipefail
source_dir=${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export SHUTTLE_BIN_DIR=${SHUTTLE_BIN_DIR:-$source_dir/build/bin}
bin=$SHUTTLE_BIN_DIR
source "$source_dir/tools/cluster/kit.sh"
source "$source_dir/tools/cluster/assert.sh"

CLUSTER_NETWORK=10.244.0.0/16
declare -A SHUTTLED_PID=()

# agent_cluster_up N [network config JSON]: nodes n1..nN, etcd, flannel's config key.
agent_cluster_up() {
  local n=$1 config=${2:-'{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'}
  kit_cluster_up "$n"
  kit_etcd_start
  kit_etcdctl put /coreos.com/network/config "$config" >/dev/null
  POD_CONF=$(kit_run_dir)/pod.conf
  cat >"$POD_CONF" <<'JSON'
{"cniVersion": "1.0.0", "name": "cbr0", "type": "shuttle",
 "subnetFile": "/run/flannel/subnet.env", "ipMasq": false}
JSON
}

# start_shuttled <node> [flags...]: in the background, log in the run dir.
start_shuttled() {
  local node=$1
  shift
  kit_node_spawn "$node" "$(kit_run_dir)/shuttled-$node.log" \
    "$bin/shuttled" --etcd-endpoints "$(kit_etcd_endpoint)" --iface eth0 "$@"
  SHUTTLED_PID[$node]=$KIT_LAST_PID
}

shuttled_log() { cat "$(kit_run_dir)/shuttled-$1.log"; }

# What a timed-out wait prints unless the test sets WAIT_DEBUG: the last lines of every
# shuttled this test started (the run dir goes with the teardown).
shuttled_log_tails() {
  local node
  for node in "${!SHUTTLED_PID[@]}"; do
    echo "--- shuttled on $node (last 12 lines)"
    tail -n 12 "$(kit_run_dir)/shuttled-$node.log" 2>/dev/null || true
  done
}

readyz() { kit_node_exec "$1" curl -s --max-time 2 http://127.0.0.1:9465/readyz; }

# Waits allow 3x the seconds a test names (SHUTTLE_WAIT_SCALE): the suite runs in parallel,
# three tests per core (tools/test.sh), and etcd requests and shuttled's start take longer on a busy machine.
# A wait only ends early when its condition holds, so the scale costs a passing test nothing.
wait_scale=${SHUTTLE_WAIT_SCALE:-3}

# wait_until <seconds> <what> <command...>
wait_until() {
  local seconds=$(($1 * wait_scale)) what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { eval "${WAIT_DEBUG:-shuttled_log_tails}" >&2; fail "timed out after ${seconds}s: $what"; }
    sleep 0.2
  done
}

wait_ready() {
  local node=$1 seconds=${2:-20}
  if ! wait_until_quiet "$seconds" kit_node_exec "$node" curl -sf --max-time 2 \
    http://127.0.0.1:9465/readyz; then
    echo "--- /readyz of $node:" >&2
    readyz "$node" >&2 || true
    echo "--- shuttled log of $node:" >&2
    shuttled_log "$node" | tail -20 >&2
    fail "$node not ready after ${seconds}s"
  fi
}

wait_until_quiet() {
  local seconds=$(($1 * wait_scale))
  shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# The node's lease as etcd names it: 10.244.3.0-24 (from its subnet.env).
node_subnet_key() {
  kit_node_exec "$1" sed -n 's/^FLANNEL_SUBNET=\(.*\)\.1\/\([0-9]*\)$/\1.0-\2/p' \
    /run/flannel/subnet.env
}

# add_pod <node> <pod>: prints the pod's IPv4 address.
add_pod() {
  local node=$1 pod=$2 out
  kit_pod_add "$pod"
  out=$(kit_cni "$node" ADD "ctr-$pod" "$pod" eth0 "$POD_CONF") || fail "ADD $pod on $node: $out"
  jq -r '.ips[0].address' <<<"$out" | cut -d/ -f1
}

pod_ping() { kit_pod_exec "$1" ping -c "${3:-2}" -i 0.2 -W 2 "$2"; }

nodes_json() {
  kit_node_exec "$1" "$bin/shuttlectl" --json --etcd-endpoints "$(kit_etcd_endpoint)" nodes
}

# What <node>'s routes map holds (sorted subnets, one per line; "stale" and "no lease"
# entries included, so a test comparing with the leases it expects sees them).
routed_subnets() {
  nodes_json "$1" | jq -r '.[] | select(.routed == "yes" or .routed == "stale" or .routed == "no lease") | .subnet' | sort
}

# routes_are <node> <subnet>...: its routes map holds exactly these (any order).
routes_are() {
  local node=$1
  shift
  [[ "$(routed_subnets "$node")" == "$(printf '%s\n' "$@" | sed '/^$/d' | sort)" ]]
}

# flannel_node_setup <node> <third octet> <VtepMAC>: the node as flanneld's vxlan backend
# leaves it (flannel.1 VNI 1 port 8472 nolearning, MTU 1450, 10.244.<o>.0/32, subnet.env,
# its lease in etcd in flannel's format with a 600 s etcd lease). FLANNEL_BRIDGE_CONF: the
# bridge + host-local config flannel's CNI plugin delegates (cbr0).
flannel_node_setup() {
  local node=$1 octet=$2 mac=$3 ip grant
  ip=$(kit_node_ip "$node")
  kit_node_exec "$node" ip link add flannel.1 type vxlan id 1 local "$ip" dev eth0 dstport 8472 nolearning
  kit_node_exec "$node" ip link set flannel.1 address "$mac" mtu 1450
  kit_node_exec "$node" ip addr add "10.244.$octet.0/32" dev flannel.1
  kit_node_exec "$node" ip link set flannel.1 up
  kit_node_exec "$node" sh -c "mkdir -p /run/flannel && printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.$octet.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n' >/run/flannel/subnet.env"
  grant=$(kit_etcdctl lease grant 600 | awk '{print $2}')
  kit_etcdctl put --lease="$grant" "/coreos.com/network/subnets/10.244.$octet.0-24" \
    "{\"PublicIP\":\"$ip\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"$mac\"}}" >/dev/null
  FLANNEL_BRIDGE_CONF=$(kit_run_dir)/flannel-bridge-$node.conf
  cat >"$FLANNEL_BRIDGE_CONF" <<JSON
{"cniVersion": "0.3.1", "name": "cbr0", "type": "bridge", "bridge": "cni0", "mtu": 1450,
 "hairpinMode": true, "ipMasq": false, "isGateway": true, "isDefaultGateway": true,
 "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.$octet.0/24"}]],
          "routes": [{"dst": "10.244.0.0/16"}]}}
JSON
}

# flannel_add_peer <node> <peer key 10.244.x.0-24> <peer VtepMAC> <peer PublicIP>: flanneld's
# EventAdded, in its order: neighbour, FDB, then the onlink route.
flannel_add_peer() {
  local node=$1 key=$2 mac=$3 ip=$4
  kit_node_exec "$node" ip neigh add "${key%-*}" lladdr "$mac" dev flannel.1 nud permanent
  kit_node_exec "$node" bridge fdb add "$mac" dev flannel.1 dst "$ip" self permanent
  kit_node_exec "$node" ip route add "${key/-//}" via "${key%-*}" dev flannel.1 onlink
}

# The IPv6 half of a flannel-style node (flanneld's dual-stack vxlan backend): the network
# config with EnableIPv6 (FLANNEL6_CONFIG, for agent_cluster_up) and its IPv6Network.
FLANNEL6_NETWORK=fd00:10:244::/56
FLANNEL6_CONFIG='{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}'

# flannel_node_setup_dual_stack <node> <third octet> <VtepMAC> <IPv6 group> <VtepMACv6>: the
# node as flanneld's dual-stack vxlan backend leaves it, on a dual-stack underlay (call
# kit_underlay_dual_stack first): flannel_node_setup's IPv4 half, plus flannel-v6.1 (VNI 1,
# port 8472, local = PublicIPv6, nolearning, its own random MAC = BackendV6Data.VtepMAC,
# accept_ra 0, the kernel's MTU: flanneld sets none for it) holding
# fd00:10:244:<group>::/128, subnet.env's IPv6 lines, the lease under the dual-stack key
# with PublicIPv6 and BackendV6Data, and a bridge config whose host-local has one range per
# family (what flannel's CNI plugin delegates).
flannel_node_setup_dual_stack() {
  local node=$1 octet=$2 mac=$3 group=$4 mac6=$5 ip ip6 grant sub6
  ip=$(kit_node_ip "$node")
  ip6=$(kit_node_ip6 "$node")
  sub6=fd00:10:244:$group::
  flannel_node_setup "$node" "$octet" "$mac"
  kit_etcdctl del "/coreos.com/network/subnets/10.244.$octet.0-24" >/dev/null
  kit_node_exec "$node" ip link add flannel-v6.1 type vxlan id 1 local "$ip6" dev eth0 dstport 8472 nolearning
  kit_node_exec "$node" ip link set flannel-v6.1 address "$mac6"
  kit_node_exec "$node" sh -c 'echo 0 >/proc/sys/net/ipv6/conf/flannel-v6.1/accept_ra'
  kit_node_exec "$node" ip -6 addr add "$sub6/128" dev flannel-v6.1
  kit_node_exec "$node" ip link set flannel-v6.1 up
  kit_node_exec "$node" sh -c "printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.$octet.1/24\nFLANNEL_IPV6_NETWORK=$FLANNEL6_NETWORK\nFLANNEL_IPV6_SUBNET=${sub6}1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n' >/run/flannel/subnet.env"
  grant=$(kit_etcdctl lease grant 600 | awk '{print $2}')
  kit_etcdctl put --lease="$grant" "/coreos.com/network/subnets/10.244.$octet.0-24&$sub6-64" \
    "{\"PublicIP\":\"$ip\",\"PublicIPv6\":\"$ip6\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"$mac\"},\"BackendV6Data\":{\"VNI\":1,\"VtepMAC\":\"$mac6\"}}" >/dev/null
  cat >"$FLANNEL_BRIDGE_CONF" <<JSON
{"cniVersion": "0.3.1", "name": "cbr0", "type": "bridge", "bridge": "cni0", "mtu": 1450,
 "hairpinMode": true, "ipMasq": false, "isGateway": true, "isDefaultGateway": true,
 "ipam": {"type": "host-local",
          "ranges": [[{"subnet": "10.244.$octet.0/24"}], [{"subnet": "$sub6/64"}]],
          "routes": [{"dst": "10.244.0.0/16"}, {"dst": "$FLANNEL6_NETWORK"}]}}
JSON
}

# flannel_add_peer6 <node> <peer IPv6 subnet fd00:10:244:x::> <peer VtepMACv6> <peer PublicIPv6>:
# flanneld's EventAdded for a peer's IPv6 half on flannel-v6.1: neighbour, FDB, onlink route.
flannel_add_peer6() {
  local node=$1 sub6=$2 mac6=$3 ip6=$4
  kit_node_exec "$node" ip -6 neigh add "$sub6" lladdr "$mac6" dev flannel-v6.1 nud permanent
  kit_node_exec "$node" bridge fdb add "$mac6" dev flannel-v6.1 dst "$ip6" self permanent
  kit_node_exec "$node" ip -6 route add "$sub6/64" via "$sub6" dev flannel-v6.1 onlink
}

# The node's IPv6 subnet as its subnet.env names it, without the length: fd00:10:244:5::
node_subnet6() { kit_node_exec "$1" sed -n 's/^FLANNEL_IPV6_SUBNET=\(.*\)::1\/64$/\1::/p' /run/flannel/subnet.env; }

# The pod's global IPv6 address on eth0.
pod6() { kit_pod_exec "$1" ip -6 -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1; }
pod_ping6() { kit_pod_exec "$1" ping -6 -c "${3:-2}" -i 0.2 -W 2 "$2"; }

# pod_tcp <from pod> <to pod> <address> [bytes]: 1 MB (iperf3) from one pod to a listener in
# the other, on a port of its own; prints the rate to stderr.
POD_TCP_PORT=5300
pod_tcp() {
  local from=$1 to=$2 address=$3 bytes=${4:-1M} port log server
  POD_TCP_PORT=$((POD_TCP_PORT + 1))
  port=$POD_TCP_PORT
  log=$(kit_run_dir)/iperf-$from-$port.log
  kit_pod_spawn "$to" "$(kit_run_dir)/iperf-$to-$port.log" iperf3 -s -1 -B "$address" -p "$port"
  server=$KIT_LAST_PID
  wait_until 10 "iperf3 listening in $to on $address" \
    sh -c "nsenter --net=$(kit_pod_path "$to") ss -ltn | grep -q ':$port '"
  kit_pod_exec "$from" iperf3 -c "$address" -p "$port" -n "$bytes" >"$log" 2>&1 ||
    { cat "$log" >&2; kit_stop "$server"; return 1; }
  echo "  TCP $from -> $to ($address): $(awk '/sender/ {print $7, $8}' "$log")" >&2
  kit_stop "$server"
}

# The routes map itself (no etcd needed): sorted subnets.
map_subnets() { kit_node_exec "$1" "$bin/shuttlectl" --json routes | jq -r '.[].subnet' | sort; }
map_is() {
  local node=$1
  shift
  [[ "$(map_subnets "$node")" == "$(printf '%s\n' "$@" | sed '/^$/d' | sort)" ]]
}

# stat_count <node> <verdict> <reason>: packets of that datapath counter (0 when absent).
stat_count() {
  kit_node_exec "$1" "$bin/shuttlectl" --json stats |
    jq --arg v "$2" --arg r "$3" '[.[] | select(.verdict == $v and .reason == $r) | .packets] | add // 0'
}

# The node's overlay mode as its node_config says (direct | device).
overlay_mode() { kit_node_exec "$1" "$bin/shuttlectl" --json status | jq -r .overlay_mode; }

# Programs attached by TCX to <ifname> <ingress|egress> inside <node>.
tcx_count() { kit_node_exec "$1" "$py" "$frames_py" tcx-count "$2" "$3"; }

# VXLAN frames: craft, capture, compare; run it where the frames are (node, pod, underlay).
# Debian's python3 when there is one: a version manager's shim costs seconds under load.
frames_py=$source_dir/tests/support/vxlan_frames.py
py=python3
[[ ! -x /usr/bin/python3 ]] || py=/usr/bin/python3

# The fault tests' traffic probe. start_pinger <pod|node:NAME> <ip> <log>: 10 pings a second
# with -O (a line per missing reply) until stop_pinger; longest_gap_ms <log>: the longest run
# of missing replies, in ms.
start_pinger() {
  local where=$1 ip=$2 log=$3
  if [[ $where == node:* ]]; then
    kit_node_spawn "${where#node:}" "$log" ping -D -O -i 0.1 -W 1 "$ip"
  else
    kit_pod_spawn "$where" "$log" ping -D -O -i 0.1 -W 1 "$ip"
  fi
  PINGER_PID=$KIT_LAST_PID
}
stop_pinger() {
  kill -INT "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
longest_gap_ms() {
  awk '/no answer yet/ {run++; if (run > max) max = run; next} /bytes from/ {run = 0} END {print max * 100 + 0}' "$1"
}
