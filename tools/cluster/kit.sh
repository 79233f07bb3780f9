# shellcheck shell=bash
# shuttle cluster kit: a simulated cluster made only of namespaces, for integration
# tests, the demo and benchmarks. Source it from bash (as root), then e.g.:
#
#   source tools/cluster/kit.sh
#   kit_cluster_up 2                      # underlay + nodes n1 n2, torn down on exit
#   kit_etcd_start                        # etcd on the underlay bridge address
#   kit_pod_add a                         # pod netns
#   kit_cni n1 ADD ctr-a a eth0 conf.json # CNI plugin call inside node n1
#   kit_node_exec n1 ip -br addr
#
# See docs/ARCHITECTURE.md "Cluster kit" for the full function list. Nothing is ever
# configured in the root network namespace: the only root-namespace artefacts are the
# /run/netns/shk-<id>-* files and the holder processes, all removed at teardown (on exit,
# on failure, on Ctrl-C/TERM; tools/cluster/sweep.sh cleans runs whose shell died).
# The kit owns the EXIT, INT, TERM and HUP traps of the sourcing shell: register your own
# cleanups with kit_on_exit instead of setting traps.

KIT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/cluster/state.sh
source "$KIT_DIR/state.sh"

# Underlay addressing (only ever inside the run's own namespaces).
KIT_UNDERLAY_NET=${KIT_UNDERLAY_NET:-192.168.77}
KIT_UNDERLAY_BRIDGE_IP=$KIT_UNDERLAY_NET.1
KIT_UNDERLAY_LEN=24
# The IPv6 half of a dual-stack underlay (kit_underlay_dual_stack): ULA, fd77::/64, the
# bridge fd77::1, node i fd77::(10+i) (n1 = fd77::11, as its IPv4 ends in .11).
KIT_UNDERLAY_NET6=${KIT_UNDERLAY_NET6:-fd77:}
KIT_UNDERLAY_BRIDGE_IP6=$KIT_UNDERLAY_NET6:1
KIT_UNDERLAY_LEN6=64
KIT_ETCD_PORT=2379

# Run state of this shell. Never taken from the environment (a script started by another
# kit user, e.g. under up.sh, must start its own run, not adopt and tear down the
# caller's); sourcing the kit again in the same shell keeps it.
if [[ ${KIT__SOURCED_IN:-} != "$$" ]]; then
  KIT__SOURCED_IN=$$
  export -n KIT__SOURCED_IN KIT_ID KIT_RUN_DIR
  KIT_ID=
  KIT_RUN_DIR=
  declare -gA KIT_NODE_IP=() KIT_NODE_IP6=() KIT_NODE_MAC=() KIT_NODE_PID=()
  declare -ga KIT_NODES=() KIT_EXIT_HOOKS=()
  KIT_NODE_COUNT=0
  KIT_UNDERLAY_HOSTS=0
  KIT_ETCD_PID=
  KIT_LAST_PID=
  KIT_UNDERLAY_UP=
  KIT_UNDERLAY_IPV6=
  KIT_DOWN_DONE=
fi

kit_log() { [[ -n ${KIT_QUIET:-} ]] || echo "kit[$KIT_ID]: $*" >&2; }
kit_die() {
  echo "kit[$KIT_ID]: error: $*" >&2
  exit 1
}

kit__record() { echo "$*" >>"$KIT_RUN_DIR/state"; }

kit__record_pid() {
  local pid=$1 tag=$2 start
  start=$(kit__starttime "$pid") || start=gone
  kit__record pid "$pid" "$start" "$tag"
}

# ---------------------------------------------------------------------------------------
# Run lifecycle

# Start a run: unique id, run dir, traps. Called by every kit function that creates
# something, so callers rarely need it; idempotent.
kit_init() {
  [[ -n $KIT_RUN_DIR ]] && return 0
  [[ $BASHPID == "$$" ]] || kit_die "start the run in the main shell (kit_init), not in a subshell"
  [[ $(id -u) == 0 ]] || kit_die "needs root (creates network namespaces)"
  local tool
  for tool in ip nsenter unshare mount curl jq; do
    command -v "$tool" >/dev/null || kit_die "missing tool: $tool (run tools/install-deps.sh)"
  done
  kit_sweep_dead_runs
  mkdir -p "$KIT_ROOT"
  while :; do
    KIT_ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
    mkdir "$KIT_ROOT/$KIT_ID" 2>/dev/null && break
  done
  KIT_RUN_DIR=$KIT_ROOT/$KIT_ID
  echo "owner $$ $(kit__starttime $$)" >"$KIT_RUN_DIR/state"
  trap 'kit__on_exit' EXIT
  trap 'kit__on_signal INT' INT
  trap 'kit__on_signal TERM' TERM
  trap 'kit__on_signal HUP' HUP
  kit_log "run dir $KIT_RUN_DIR"
}

kit_run_id() { echo "$KIT_ID"; }
kit_run_dir() { echo "$KIT_RUN_DIR"; }

# Register a command run at teardown before the kit's own cleanup (last added runs first).
kit_on_exit() { KIT_EXIT_HOOKS+=("$*"); }

# Tear the run down now: exit hooks, recorded processes (and any process still inside
# the run's namespaces), namespaces, run dir. Idempotent; safe from traps.
kit_down() {
  [[ -n $KIT_RUN_DIR && -z $KIT_DOWN_DONE && $BASHPID == "$$" ]] || return 0
  KIT_DOWN_DONE=1
  local i
  for ((i = ${#KIT_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
    eval "${KIT_EXIT_HOOKS[i]}" || echo "kit[$KIT_ID]: exit hook failed: ${KIT_EXIT_HOOKS[i]}" >&2
  done
  kit__teardown_run "$KIT_RUN_DIR"
  kit_log "torn down"
}

kit__on_exit() {
  local status=$?
  kit_down
  return $status
}

# Clean up, then die of the same signal so the caller sees how we ended.
kit__on_signal() {
  kit_down
  trap - EXIT "$1"
  kill "-$1" $$
}

# Clean runs whose owner shell is gone (e.g. killed with SIGKILL).
kit_sweep_dead_runs() {
  local dir
  for dir in "$KIT_ROOT"/*; do
    [[ -d $dir ]] && kit__valid_run_dir "$dir" || continue
    # A run that has not written its owner line yet is a few microseconds old.
    [[ -s $dir/state ]] || continue
    kit__owner_alive "$dir" && continue
    echo "kit: sweeping dead run $(basename "$dir")" >&2
    kit__teardown_run "$dir"
  done
}

# ---------------------------------------------------------------------------------------
# Names

kit_netns_name() { echo "${KIT_NETNS_PREFIX}${KIT_ID}-$1"; }
kit_underlay_netns() { kit_netns_name u; }
kit_node_netns() { kit_netns_name "$1"; }
kit_pod_netns() { kit_netns_name "p-$1"; }
kit_pod_path() { echo "/run/netns/$(kit_pod_netns "$1")"; }

# ip, failing the run when it fails (callers need not use set -e).
kit__ip() { ip "$@" || kit_die "ip $* failed"; }

kit__add_netns() {
  local name
  name=$(kit_netns_name "$1")
  kit__record netns "$name"
  kit__ip netns add "$name"
  kit__ip -n "$name" link set lo up
}

# ---------------------------------------------------------------------------------------
# Underlay and nodes

# The underlay: a namespace with bridge br0 holding $KIT_UNDERLAY_BRIDGE_IP/24.
kit_underlay_up() {
  kit_init
  [[ -n $KIT_UNDERLAY_UP ]] && return 0
  kit__add_netns u
  local u
  u=$(kit_underlay_netns)
  # A fixed MAC: otherwise the bridge takes the lowest port MAC, changes it as nodes join,
  # and a node that ARPed the old one can be cut off from the bridge address (seen here:
  # SYN-SENT to etcd for good, neighbour REACHABLE at the old MAC).
  kit__ip -n "$u" link add br0 address "02:6b:${KIT_ID:0:2}:${KIT_ID:2:2}:${KIT_ID:4:2}:01" type bridge
  kit__ip -n "$u" addr add "$KIT_UNDERLAY_BRIDGE_IP/$KIT_UNDERLAY_LEN" dev br0
  kit__ip -n "$u" link set br0 up
  KIT_UNDERLAY_UP=1
}

# kit_underlay_dual_stack: the underlay gets its IPv6 half (call it before or after the
# nodes are added; later nodes and reboots get it too): br0 holds fd77::1/64, every node's
# eth0 fd77::(10+i)/64 (kit_node_ip6) without DAD, a default route via fd77::1 and IPv6
# forwarding on, as on a dual-stack Kubernetes node. Only inside the run's namespaces.
kit_underlay_dual_stack() {
  kit_underlay_up
  [[ -n $KIT_UNDERLAY_IPV6 ]] && return 0
  local u node
  u=$(kit_underlay_netns)
  kit__ip netns exec "$u" sysctl -qw net.ipv6.conf.br0.disable_ipv6=0
  kit__ip -n "$u" addr add "$KIT_UNDERLAY_BRIDGE_IP6/$KIT_UNDERLAY_LEN6" dev br0 nodad
  KIT_UNDERLAY_IPV6=1
  for node in "${KIT_NODES[@]}"; do kit__node_ipv6_up "$node"; done
  kit_log "underlay dual-stack: $KIT_UNDERLAY_BRIDGE_IP6/$KIT_UNDERLAY_LEN6"
}

kit__node_ipv6_up() {
  local node=$1 n ip6
  n=$(kit_node_netns "$node")
  ip6=${KIT_NODE_IP6[$node]}
  kit__ip netns exec "$n" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0 net.ipv6.conf.all.forwarding=1
  kit__ip -n "$n" addr add "$ip6/$KIT_UNDERLAY_LEN6" dev eth0 nodad
  kit__ip -n "$n" -6 route add default via "$KIT_UNDERLAY_BRIDGE_IP6" dev eth0
}

# kit_underlay_host <pod> <address> [<ipv6 address>]: a pod namespace plugged straight into
# the underlay bridge, eth0 = <address>/24 (and <ipv6 address>/64 on a dual-stack underlay):
# a host on the nodes' L2 that is not a node (the cross-node limit of the benchmarks, a
# forger in the tests).
kit_underlay_host() {
  local pod=$1 ip=$2 ip6=${3:-} u p
  kit_underlay_up
  kit_pod_add "$pod"
  KIT_UNDERLAY_HOSTS=$((KIT_UNDERLAY_HOSTS + 1))
  u=$(kit_underlay_netns)
  p=$(kit_pod_netns "$pod")
  kit__ip -n "$u" link add "h$KIT_ID-$KIT_UNDERLAY_HOSTS" type veth peer name eth0 netns "$p"
  kit__ip -n "$u" link set "h$KIT_ID-$KIT_UNDERLAY_HOSTS" master br0 up
  kit__ip -n "$p" addr add "$ip/$KIT_UNDERLAY_LEN" dev eth0
  if [[ -n $ip6 ]]; then
    [[ -n $KIT_UNDERLAY_IPV6 ]] || kit_die "kit_underlay_host $pod $ip6: the underlay is not dual-stack (kit_underlay_dual_stack)"
    kit__ip -n "$p" addr add "$ip6/$KIT_UNDERLAY_LEN6" dev eth0 nodad
  fi
  kit__ip -n "$p" link set eth0 up
}

kit_underlay_exec() {
  nsenter --net="/run/netns/$(kit_underlay_netns)" -- env "$@"
}

# Add one node: netns with eth0 on the underlay (default route via the bridge address,
# ip_forward on as on a Kubernetes node) and a holder with the node's own mounts.
kit_node_add() {
  local node=$1
  [[ $node =~ ^[a-z][a-z0-9]{0,6}$ ]] || kit_die "node name '$node': 1-7 of [a-z0-9], letter first"
  [[ -n ${KIT_NODE_IP[$node]:-} ]] && kit_die "node $node exists"
  kit_underlay_up
  KIT_NODE_COUNT=$((KIT_NODE_COUNT + 1))
  local ip=$KIT_UNDERLAY_NET.$((10 + KIT_NODE_COUNT))
  ((10 + KIT_NODE_COUNT < 255)) || kit_die "too many nodes"
  KIT_NODE_IP6[$node]=$KIT_UNDERLAY_NET6:$((10 + KIT_NODE_COUNT))
  # eth0's MAC is the node's for good, as a NIC's: a reboot keeps it, so peers' neighbour
  # entries (IPv6 ones stay REACHABLE up to 45 s) do not point at a vanished address.
  KIT_NODE_MAC[$node]=$(printf '02:6c:%s:%s:%s:%02x' "${KIT_ID:0:2}" "${KIT_ID:2:2}" "${KIT_ID:4:2}" "$KIT_NODE_COUNT")
  kit__node_netns_up "$node" "$ip"
  KIT_NODE_IP[$node]=$ip
  KIT_NODES+=("$node")
  kit__start_holder "$node"
}

kit__node_netns_up() {
  local node=$1 ip=$2 n u
  n=$(kit_node_netns "$node")
  u=$(kit_underlay_netns)
  kit__add_netns "$node"
  kit__ip -n "$u" link add "k$KIT_ID-$node" type veth peer name eth0 netns "$n" address "${KIT_NODE_MAC[$node]}"
  kit__ip -n "$u" link set "k$KIT_ID-$node" master br0 up
  kit__ip -n "$n" addr add "$ip/$KIT_UNDERLAY_LEN" dev eth0
  kit__ip -n "$n" link set eth0 up
  kit__ip -n "$n" route add default via "$KIT_UNDERLAY_BRIDGE_IP"
  kit__ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1
  [[ -z $KIT_UNDERLAY_IPV6 ]] || kit__node_ipv6_up "$node"
}

# kit_node_reboot <node>: the node loses power and boots again. Every process in its network
# namespace (the holder, shuttled, anything spawned there) is SIGKILLed; the namespace (its
# devices, routes, the host ends of its pods' veths) and the holder's mounts (/run with
# subnet.env, the bpffs) are gone; a fresh namespace with the same eth0 address and a fresh
# holder come up. /var/lib/cni (the IP store and the plugin's records) is what a disk keeps:
# carried over. Pods' own namespaces are left to the caller (a runtime recreates sandboxes).
kit_node_reboot() {
  local node=$1 n disk pid
  n=$(kit_node_netns "$node")
  disk=$(kit_node_dir "$node")/disk.tar
  kit_node_exec "$node" tar -C /var/lib/cni -cf - . >"$disk" || kit_die "saving $node's /var/lib/cni"
  for pid in $(ip netns pids "$n"); do kill -KILL "$pid" 2>/dev/null || true; done
  local deadline=$((SECONDS + 10))
  while [[ -n $(ip netns pids "$n") ]]; do
    ((SECONDS < deadline)) || kit_die "processes left in $node after SIGKILL: $(ip netns pids "$n")"
    sleep 0.05
  done
  wait "${KIT_NODE_PID[$node]}" 2>/dev/null || true
  # the underlay end first: a deleted netns is destroyed asynchronously, its eth0 with it
  kit__ip -n "$(kit_underlay_netns)" link del "k$KIT_ID-$node"
  kit__ip netns del "$n"
  rm -f "$(kit_node_dir "$node")/ready"
  kit__node_netns_up "$node" "${KIT_NODE_IP[$node]}"
  kit__start_holder "$node"
  kit_node_exec "$node" tar -C /var/lib/cni -xf - <"$disk" || kit_die "restoring $node's /var/lib/cni"
  kit_log "node $node rebooted"
}

kit__start_holder() {
  local node=$1 dir
  dir=$(kit_node_dir "$node")
  mkdir -p "$dir/cni/net.d" "$dir/cni/bin"
  kit__fill_bin_dir "$dir/cni/bin"
  nsenter --net="/run/netns/$(kit_node_netns "$node")" -- \
    unshare --mount --propagation slave -- \
    bash "$KIT_DIR/holder.sh" "$KIT_HOLDER_TAG:$KIT_ID:$node" "$dir" \
    </dev/null >"$dir/holder.log" 2>&1 &
  local pid=$!
  kit__record_pid "$pid" "holder:$node"
  KIT_NODE_PID[$node]=$pid
  # 30 s: tests run in parallel, and a holder starts in well under a second on a quiet machine.
  local deadline=$((SECONDS + 30))
  until [[ -e $dir/ready ]]; do
    kit__starttime "$pid" >/dev/null || kit_die "holder of $node failed: $(cat "$dir/holder.log")"
    ((SECONDS < deadline)) || kit_die "holder of $node not ready after 30 s"
    sleep 0.02
  done
}

# The node's CNI bin dir: Debian's reference plugins and shuttle's binaries, as symlinks
# so a rebuild is seen without restarting anything.
kit__fill_bin_dir() {
  local bin=$1 f
  for f in /usr/lib/cni/* "${SHUTTLE_BIN_DIR:-/nonexistent}"/shuttle*; do
    [[ -f $f && -x $f ]] && ln -sf "$f" "$bin/$(basename "$f")"
  done
  return 0
}

# Underlay + nodes n1..n<count>; with --dual-stack the underlay's IPv6 half too.
kit_cluster_up() {
  local count=${1:-2} i
  kit_underlay_up
  [[ ${2:-} != --dual-stack ]] || kit_underlay_dual_stack
  for ((i = 1; i <= count; i++)); do kit_node_add "n$i"; done
  kit_log "cluster up: ${KIT_NODES[*]}"
}

kit_nodes() { echo "${KIT_NODES[@]}"; }
kit_node_ip() { echo "${KIT_NODE_IP[$1]:?unknown node $1}"; }
# The node's underlay IPv6 (fd77::11 for n1); only configured on a dual-stack underlay.
kit_node_ip6() {
  [[ -n $KIT_UNDERLAY_IPV6 ]] || kit_die "kit_node_ip6 $1: the underlay is not dual-stack (kit_underlay_dual_stack)"
  echo "${KIT_NODE_IP6[$1]:?unknown node $1}"
}
kit_node_pid() { echo "${KIT_NODE_PID[$1]:?unknown node $1}"; }
kit_node_dir() { echo "$KIT_RUN_DIR/nodes/$1"; }
# Host paths of the node's CNI dirs (inside the node: /etc/cni/net.d and /opt/cni/bin).
kit_node_conf_dir() { echo "$KIT_RUN_DIR/nodes/$1/cni/net.d"; }
kit_node_bin_dir() { echo "$KIT_RUN_DIR/nodes/$1/cni/bin"; }

# nsenter arguments that put a command into the node (net + mount namespaces of its
# holder). The working directory is kept when it exists in the node's view.
kit__node_enter() {
  local node=$1 pid wd=/
  pid=$(kit_node_pid "$node") || exit 1
  case $PWD in /run* | /sys* | /var/lib/cni* | /etc/cni* | /opt/cni*) ;; *) wd=$PWD ;; esac
  KIT_ENTER=(nsenter --target "$pid" --net --mount --wd="$wd" --)
}

# kit_node_exec <node> [VAR=value...] <command> [args...]
# Run a command inside the node; stdin, stdout, stderr and exit code are the command's.
kit_node_exec() {
  local node=$1
  shift
  kit__node_enter "$node"
  "${KIT_ENTER[@]}" env "$@"
}

# kit_node_spawn <node> <logfile> [VAR=value...] <command> [args...]
# Start a long-running command inside the node in the background; its PID is left in
# KIT_LAST_PID. It is stopped at teardown (or earlier with kit_stop <pid>).
kit_node_spawn() {
  local node=$1 log=$2
  shift 2
  kit__node_enter "$node"
  "${KIT_ENTER[@]}" env "$@" </dev/null >"$log" 2>&1 &
  local pid=$!
  kit__record_pid "$pid" "spawn:$node"
  KIT_LAST_PID=$pid
}

# Stop a process the kit started (TERM, then KILL after 5 s).
kit_stop() {
  local pid=$1 left
  kill -TERM "$pid" 2>/dev/null || return 0
  if ! left=$(kit__wait_gone 5 "$pid"); then
    kill -KILL "$pid" 2>/dev/null
    kit__wait_gone 5 "$pid" >/dev/null
  fi
  # kit__wait_gone ran in a subshell, which cannot reap our child: reap it here, or it
  # stays a zombie that `kill -0` still finds.
  wait "$pid" 2>/dev/null || true
  return 0
}

# ---------------------------------------------------------------------------------------
# Pods

# kit_pod_add <pod>: a pod network namespace (loopback up, as runtimes do), at
# $(kit_pod_path <pod>).
kit_pod_add() {
  local pod=$1
  [[ $pod =~ ^[A-Za-z0-9_.-]+$ ]] || kit_die "pod name '$pod': use [A-Za-z0-9_.-]"
  kit_init
  kit__add_netns "p-$pod"
}

kit_pod_del() { ip netns del "$(kit_pod_netns "$1")"; }

# kit_pod_exec <pod> [VAR=value...] <command> [args...]: run in the pod's netns.
kit_pod_exec() {
  local pod=$1
  shift
  nsenter --net="$(kit_pod_path "$pod")" -- env "$@"
}

# kit_pod_spawn <pod> <logfile> [VAR=value...] <command> [args...]: background, like
# kit_node_spawn (PID in KIT_LAST_PID).
kit_pod_spawn() {
  local pod=$1 log=$2
  shift 2
  nsenter --net="$(kit_pod_path "$pod")" -- env "$@" </dev/null >"$log" 2>&1 &
  local pid=$!
  kit__record_pid "$pid" "spawn:pod-$pod"
  KIT_LAST_PID=$pid
}

# kit_cni <node> <COMMAND> <container-id> <pod|/netns/path|""> <ifname> <config-file|-> [VAR=value...]
# Run the CNI plugin named by the config's "type" from the node's bin dir, inside the
# node, as a runtime would: CNI_* in the environment, config on stdin. Prints the
# plugin's stdout; returns its exit code. Extra VAR=value pairs (e.g. CNI_ARGS=...) are
# added to the environment.
kit_cni() {
  local node=$1 command=$2 container=$3 pod=$4 ifname=$5 conf=$6
  shift 6
  local netns=$pod config type
  [[ -z $pod || $pod == /* ]] || netns=$(kit_pod_path "$pod")
  if [[ $conf == - ]]; then config=$(cat); else config=$(<"$conf"); fi
  type=$(jq -r '.type // empty' <<<"$config") || kit_die "kit_cni: config is not JSON"
  [[ -n $type ]] || kit_die "kit_cni: config has no type"
  kit_node_exec "$node" CNI_COMMAND="$command" CNI_CONTAINERID="$container" \
    CNI_NETNS="$netns" CNI_IFNAME="$ifname" CNI_PATH=/opt/cni/bin "$@" \
    "/opt/cni/bin/$type" <<<"$config"
}

# ---------------------------------------------------------------------------------------
# etcd

kit_etcd_endpoint() { echo "http://$KIT_UNDERLAY_BRIDGE_IP:$KIT_ETCD_PORT"; }

# Start a one-member etcd in the underlay namespace on the bridge address (every node
# reaches it) and 127.0.0.1 there; wait until /health says true. Endpoint: kit_etcd_endpoint.
kit_etcd_start() {
  kit_underlay_up
  [[ -z $KIT_ETCD_PID ]] || kit_die "etcd already running"
  command -v etcd >/dev/null || kit_die "missing etcd (Debian package etcd-server)"
  local dir=$KIT_RUN_DIR/etcd endpoint
  endpoint=$(kit_etcd_endpoint)
  mkdir -p "$dir"
  nsenter --net="/run/netns/$(kit_underlay_netns)" -- \
    etcd --name "kit-$KIT_ID" --data-dir "$dir/data" \
    --listen-client-urls "$endpoint,http://127.0.0.1:$KIT_ETCD_PORT" \
    --advertise-client-urls "$endpoint" \
    --listen-peer-urls http://127.0.0.1:2380 \
    --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "kit-$KIT_ID=http://127.0.0.1:2380" \
    --heartbeat-interval 10 --election-timeout 100 \
    </dev/null >"$dir/etcd.log" 2>&1 &
  KIT_ETCD_PID=$!
  kit__record_pid "$KIT_ETCD_PID" etcd
  local deadline=$((SECONDS + 60))
  until kit_underlay_exec curl -sf --max-time 1 "$endpoint/health" 2>/dev/null | grep -q '"health":"true"'; do
    kit__starttime "$KIT_ETCD_PID" >/dev/null || kit_die "etcd exited: $(tail -5 "$dir/etcd.log")"
    ((SECONDS < deadline)) || kit_die "etcd not healthy after 60 s: $(tail -5 "$dir/etcd.log")"
    sleep 0.1
  done
  kit_log "etcd up at $endpoint (pid $KIT_ETCD_PID)"
}

kit_etcd_pid() { echo "$KIT_ETCD_PID"; }

kit_etcd_stop() {
  [[ -n $KIT_ETCD_PID ]] || return 0
  kit_stop "$KIT_ETCD_PID"
  KIT_ETCD_PID=
}

# etcdctl (API v3) against the run's etcd, from inside the underlay.
kit_etcdctl() {
  kit_underlay_exec ETCDCTL_API=3 etcdctl --endpoints="$(kit_etcd_endpoint)" "$@"
}
