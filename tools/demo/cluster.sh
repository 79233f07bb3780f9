#!/usr/bin/env bash
# The demo's cluster part (tools/demo.sh runs it after installing and building): a real
# etcd, 3 nodes made of namespaces (tools/cluster/kit.sh), shuttled on every node, shuttle
# installed as every node's CNI plugin, pods on every node, then traffic, inspection and a
# short benchmark. Every step whose piece is not built yet says so and is skipped.
#
#   sudo tools/demo/cluster.sh [--quick] [--keep] [--no-bench]
#
#   --quick     accepted for old command lines (the benchmark runs one round anyway)
#   --keep      leave the cluster up at the end and print the command that removes it
#   --no-bench  skip the benchmark step
#
# Everything lives in namespaces the kit creates; a failure names its step and the kit's
# trap still removes everything.
set -Eeuo pipefail
demo_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$demo_dir/../.." && pwd)
bin=${DEMO_BIN_DIR:-$repo/build/bin} # DEMO_BIN_DIR, DEMO_CONFLIST: for tests

quick= keep= bench=1
while (($#)); do
  case $1 in
  --quick) quick=1 ;;
  --keep) keep=1 ;;
  --no-bench) bench= ;;
  -h | --help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=tools/demo/lib.sh
source "$demo_dir/lib.sh"
trap 'demo_on_error $LINENO "$BASH_COMMAND"' ERR

# The kit links $SHUTTLE_BIN_DIR's binaries into every node's bin dir; the demo installs
# the plugin itself (step 5), as a node install would.
unset SHUTTLE_BIN_DIR
KIT_QUIET=1
# shellcheck source=tools/cluster/kit.sh
source "$repo/tools/cluster/kit.sh"

NODES=(n1 n2 n3)
NETWORK_CONFIG='{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'
ETCD_PREFIX=/coreos.com/network
BPFFS_ROOT=/sys/fs/bpf/shuttle # inside each node: the node's own bpffs
HEALTHZ=127.0.0.1:9465
declare -A SHUTTLED_PID=() POD_IP=() POD_NODE=() POD_VETH=()
PODS=()

[[ -x $bin/shuttle ]] || demo_fail "no plugin at $bin/shuttle (build first: cmake --build build)"
kit_init
kit_on_exit 'DEMO_TEARDOWN=1; demo_report_unfinished'
RESULTS_DIR=$(kit_run_dir)/results # per pod CNI results (the runtime's cache)
mkdir -p "$RESULTS_DIR"

# The benchmark (step 11) starts now: its setups (namespaces, nodes, shuttled, etcd) are
# built while steps 1-10 run; it measures only once step 11 creates $BENCH_GO, alone.
BENCH_PID= BENCH_LOG= BENCH_GO=
start_bench() {
  local args=(--quick --out "$repo/build/bench/demo-$(date -u +%Y%m%dT%H%M%SZ)")
  [[ -z $quick ]] || args+=(--rounds 1)
  BENCH_LOG=$(kit_run_dir)/bench.log BENCH_GO=$(kit_run_dir)/bench.go
  SHUTTLE_BIN_DIR=$bin bash "$repo/tools/bench/suite.sh" "${args[@]}" --wait-for "$BENCH_GO" \
    </dev/null >"$BENCH_LOG" 2>&1 &
  BENCH_PID=$!
}
# Shows the benchmark's output as it comes, until it ends, without starting a process per
# poll (it runs during the measurements). `tail --pid` would wait for ever: our own child
# stays a zombie until we reap it.
follow_bench() {
  local log nap line partial='' stat running=1
  exec {log}<"$BENCH_LOG" {nap}<> <(:)
  while :; do
    while IFS= read -r -u "$log" line; do
      printf '    %s\n' "$partial$line"
      partial=
    done
    partial+=$line # a line still being written
    ((running)) || break
    stat=
    { read -r stat <"/proc/$BENCH_PID/stat"; } 2>/dev/null || true
    [[ -n $stat && $stat != *") Z "* && $stat != *") X "* ]] || running=0
    read -r -t 0.2 -u "$nap" || true
  done
  [[ -z $partial ]] || printf '    %s\n' "$partial"
  exec {log}<&- {nap}<&-
}
stop_bench() { # at exit: a benchmark still running stops (its scenarios tear themselves down)
  [[ -n $BENCH_PID ]] || return 0
  kill -TERM "$BENCH_PID" 2>/dev/null || true
  wait "$BENCH_PID" 2>/dev/null || true
}
if [[ -n $bench ]]; then
  start_bench
  kit_on_exit stop_bench
fi

# Probes read the whole help text first (grep -q in a pipe under pipefail can fail on SIGPIPE).
help_of() { [[ -x $1 ]] && "$1" --help 2>&1 || true; }
have_shuttled() { [[ $(help_of "$bin/shuttled") == *--etcd-endpoints* ]]; }
have_shuttlectl_command() { grep -qE "^  $1 " <<<"$(help_of "$bin/shuttlectl")"; }
node_has_pins() { kit_node_exec "$1" test -e "$BPFFS_ROOT/v1/maps/endpoints"; }

# Runs a conflist's plugins in order (ADD) or in reverse (DEL) inside the node, as a
# runtime does: name and cniVersion injected, each ADD's result the next one's prevResult.
# Prints the final result. One jq per call for all the plugins' configs (jq takes ~25 ms of
# CPU to start): prevResult is appended to a plugin's compact object as text.
cni_conflist() { # node CMD container pod conflist [VAR=value...]
  local node=$1 cmd=$2 ctr=$3 pod=$4 file=$5
  shift 5
  local i conf prev='' out order
  local -a plugins
  mapfile -t plugins < <(jq -c '. as $list | .plugins[] + {name: $list.name, cniVersion: $list.cniVersion}' "$file")
  ((${#plugins[@]})) || { echo "$file: no plugins"; return 1; }
  if [[ $cmd == DEL ]]; then
    order=$(seq $((${#plugins[@]} - 1)) -1 0)
    [[ -f $RESULTS_DIR/$ctr.json ]] && prev=$(<"$RESULTS_DIR/$ctr.json")
  else
    order=$(seq 0 $((${#plugins[@]} - 1)))
  fi
  for i in $order; do
    conf=${plugins[i]}
    [[ -z $prev ]] || conf="${conf%\}},\"prevResult\":$prev}"
    if ! out=$(kit_cni "$node" "$cmd" "$ctr" "$pod" eth0 - "$@" <<<"$conf"); then
      echo "$(jq -r .type <<<"${plugins[i]}") $cmd: ${out:-no output}"
      return 1
    fi
    [[ $cmd != ADD ]] || prev=$out
  done
  [[ $cmd != ADD ]] || echo "$prev" | tee "$RESULTS_DIR/$ctr.json"
}

# ---------------------------------------------------------------------------------------
demo_step 1/12 "etcd in the underlay"
kit_etcd_start
demo_ok "$(etcd --version | head -1), pid $(kit_etcd_pid), at $(kit_etcd_endpoint) in netns $(kit_underlay_netns)"

demo_step 2/12 "a 3-node cluster of namespaces"
for node in "${NODES[@]}"; do
  kit_node_add "$node"
  kit_node_exec "$node" curl -sf --max-time 2 "$(kit_etcd_endpoint)/health" >/dev/null ||
    demo_fail "node $node cannot reach etcd at $(kit_etcd_endpoint)"
  demo_ok "$node: eth0 $(kit_node_ip "$node")/24 on the underlay bridge, netns $(kit_node_netns "$node"), own /sys, bpffs, /run, CNI dirs (holder pid $(kit_node_pid "$node")); reaches etcd"
done

demo_step 3/12 "flannel's network config in etcd"
kit_etcdctl put "$ETCD_PREFIX/config" "$NETWORK_CONFIG" >/dev/null
demo_cmd "etcdctl get $ETCD_PREFIX/config"
kit_etcdctl get "$ETCD_PREFIX/config" --print-value-only | demo_show

demo_step 4/12 "shuttled on every node (subnet lease from etcd, subnet.env)"
if have_shuttled; then
  for node in "${NODES[@]}"; do
    # shuttled does not create the subnet file's directory (flanneld does).
    kit_node_exec "$node" mkdir -p /run/flannel
    kit_node_spawn "$node" "$(kit_node_dir "$node")/shuttled.log" "$bin/shuttled" \
      --etcd-endpoints "$(kit_etcd_endpoint)" --etcd-prefix "$ETCD_PREFIX" \
      --public-ip "$(kit_node_ip "$node")" --iface eth0 --healthz-addr "$HEALTHZ"
    SHUTTLED_PID[$node]=$KIT_LAST_PID
  done
  for node in "${NODES[@]}"; do
    # Usually ready within a second; on a loaded machine an etcd timeout puts shuttled
    # into its retry backoff (up to 30 s), hence the long deadline and the progress lines.
    deadline=$((SECONDS + 60)) next_note=$((SECONDS + 5))
    until kit_node_exec "$node" curl -sf --max-time 1 "http://$HEALTHZ/readyz" >/dev/null 2>&1; do
      kit__starttime "${SHUTTLED_PID[$node]}" >/dev/null ||
        demo_fail "shuttled on $node exited: $(tail -3 "$(kit_node_dir "$node")/shuttled.log")"
      ((SECONDS < deadline)) || demo_fail "shuttled on $node not ready after 60 s: $(kit_node_exec "$node" curl -s "http://$HEALTHZ/readyz" | tr '\n' ' ')"
      if ((SECONDS >= next_note)); then
        demo_info "waiting for shuttled on $node: $(kit_node_exec "$node" curl -s --max-time 1 "http://$HEALTHZ/readyz" | tr '\n' ' ')"
        next_note=$((SECONDS + 5))
      fi
      sleep 0.2
    done
    demo_ok "$node: shuttled pid ${SHUTTLED_PID[$node]} ready; $(kit_node_exec "$node" cat /run/flannel/subnet.env | grep SUBNET= | tr '\n' ' ')"
  done
  demo_cmd "etcdctl get --prefix $ETCD_PREFIX/subnets"
  kit_etcdctl get --prefix "$ETCD_PREFIX/subnets/" | paste - - | demo_show
else
  demo_skip "shuttled has no --etcd-endpoints ($bin/shuttled --help): writing each node's subnet.env by hand instead"
  i=0
  for node in "${NODES[@]}"; do
    i=$((i + 1))
    kit_node_exec "$node" sh -c 'mkdir -p /run/flannel && cat >/run/flannel/subnet.env' <<EOF
FLANNEL_NETWORK=10.244.0.0/16
FLANNEL_SUBNET=10.244.$i.1/24
FLANNEL_MTU=1450
FLANNEL_IPMASQ=false
EOF
    demo_info "$node: FLANNEL_SUBNET=10.244.$i.1/24 (static)"
  done
fi

demo_step 5/12 "shuttle as every node's CNI plugin"
conflist_src=${DEMO_CONFLIST:-$repo/tools/install/10-shuttle.conflist} # the shipped example
for node in "${NODES[@]}"; do
  install -m 0755 "$bin/shuttle" "$(kit_node_bin_dir "$node")/shuttle"
  install -m 0644 "$conflist_src" "$(kit_node_conf_dir "$node")/10-shuttle.conflist"
done
demo_info "each node: /opt/cni/bin/shuttle (copied from build/bin) beside Debian's plugins, /etc/cni/net.d/10-shuttle.conflist:"
jq -c '.plugins[]' "$conflist_src" | demo_show
demo_ok "plugin answers VERSION: $(kit_node_exec n1 CNI_COMMAND=VERSION /opt/cni/bin/shuttle </dev/null | jq -c .supportedVersions)"

demo_step 6/12 "pods on every node through the plugin"
printf '    %-6s %-5s %-14s %-16s %s\n' pod node IP "host veth" "ADD ms (the whole conflist chain)"
for node in "${NODES[@]}"; do
  for suffix in a b; do
    pod=$node-$suffix
    kit_pod_add "$pod"
    t0=$EPOCHREALTIME
    result=$(cni_conflist "$node" ADD "demo-$pod" "$pod" "$(kit_node_conf_dir "$node")/10-shuttle.conflist" \
      CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=$pod") ||
      demo_fail "CNI ADD of pod $pod on $node: $result"
    t1=$EPOCHREALTIME
    PODS+=("$pod")
    POD_NODE[$pod]=$node
    { read -r POD_IP[$pod] && read -r POD_VETH[$pod]; } < <(jq -r '(.ips[0].address | sub("/.*"; "")),
      ([.interfaces[] | select(.sandbox == null or .sandbox == "")][0].name // "-")' <<<"$result")
    printf '    %-6s %-5s %-14s %-16s %d\n' "$pod" "$node" "${POD_IP[$pod]}" "${POD_VETH[$pod]}" \
      $(((${t1/./} - ${t0/./}) / 1000))
  done
done

demo_step 7/12 "pod to pod on one node (n1-a -> n1-b)"
local_redirects() { # node -> packets redirected pod to pod by the datapath, or "" without pins
  node_has_pins "$1" || return 0
  kit_node_exec "$1" "$bin/shuttlectl" --json stats 2>/dev/null |
    jq '[.. | objects | select((.verdict // "" | test("redirect")) and ((.reason // "") | test("local")))
         | .packets] | add // 0' 2>/dev/null || true
}
before=$(local_redirects n1)
demo_cmd "ping -c 3 ${POD_IP[n1-b]}   (in pod n1-a)"
out=$(kit_pod_exec n1-a ping -c 3 -i 0.2 -W 2 "${POD_IP[n1-b]}" 2>&1) ||
  demo_fail "ping n1-a -> n1-b (${POD_IP[n1-b]}) failed: $(tail -2 <<<"$out")"
tail -2 <<<"$out" | demo_show
after=$(local_redirects n1)
if [[ -n $after ]]; then
  demo_ok "the eBPF datapath redirected $((after - ${before:-0})) packets pod to pod (shuttlectl stats)"
else
  demo_skip "no eBPF datapath pinned on n1 ($BPFFS_ROOT): the packets took the plugin's host routes"
fi

demo_step 8/12 "pod to pod across nodes (n1-a -> n2-a, n3-a)"
# Cross-node traffic needs the encapsulation: a to-overlay program, the VXLAN device and
# remote subnets in the routes map. Report the first missing piece.
encap_missing() {
  local progs vxlan routes
  progs=$(kit_node_exec n1 ls "$BPFFS_ROOT/v1/progs" 2>/dev/null | tr '\n' ' ')
  if ! grep -qiE 'overlay|encap|vxlan' <<<"$progs"; then
    echo "no encapsulation program pinned on n1 ($BPFFS_ROOT/v1/progs has: ${progs:-nothing})"
    return
  fi
  vxlan=$(kit_node_exec n1 ip -br link show type vxlan)
  [[ -n $vxlan ]] || { echo "no VXLAN device on n1 (shuttled does not create shuttle.1 yet)"; return; }
  routes=$(kit_node_exec n1 bpftool -j map dump pinned "$BPFFS_ROOT/v1/maps/routes" 2>/dev/null | jq length 2>/dev/null || echo 0)
  ((routes > 0)) || echo "the routes map on n1 is empty (shuttled does not fill it yet)"
}
missing=$(encap_missing)
if [[ -z $missing ]]; then
  for pod in n2-a n3-a; do
    demo_cmd "ping -c 3 ${POD_IP[$pod]}   (in pod n1-a, to $pod on ${POD_NODE[$pod]})"
    out=$(kit_pod_exec n1-a ping -c 3 -i 0.2 -W 2 "${POD_IP[$pod]}" 2>&1) ||
      demo_fail "ping n1-a -> $pod (${POD_IP[$pod]}) failed: $(tail -2 <<<"$out")"
    tail -2 <<<"$out" | demo_show
  done
else
  demo_skip "cross-node eBPF encapsulation: $missing"
  if have_shuttled; then
    demo_info "what exists: the control plane. shuttled on n1 sees its peers in etcd:"
    grep 'peer(s)' "$(kit_node_dir n1)/shuttled.log" | tail -1 | sed 's/^.* info: //' | demo_show
  fi
  if kit_pod_exec n1-a ping -c 1 -W 1 "${POD_IP[n2-a]}" >/dev/null 2>&1; then
    demo_info "note: n1-a reached n2-a anyway (some other path exists in this cluster)"
  else
    demo_info "checked: n1-a -> n2-a (${POD_IP[n2-a]}) gets no reply, as expected without it"
  fi
fi

# shuttlectl monitor while pod n1-a sends from an address that is not its own: the
# datapath drops those packets as spoofed and the monitor prints the events.
show_monitor() {
  local log spoofed pid
  log=$(kit_run_dir)/monitor.log
  spoofed=${POD_IP[n1-a]%.*}.250
  demo_cmd "shuttlectl monitor   (while n1-a pings n1-b from $spoofed, an address it does not own)"
  # It ends at the ping's two drops (--count 2), at the latest after 4 s.
  kit_node_spawn n1 "$log" timeout 4 "$bin/shuttlectl" --count 2 monitor
  pid=$KIT_LAST_PID
  sleep 0.5 # the monitor's ring buffer open (as tests/cluster/agent_forged_vxlan.sh waits)
  ip -n "$(kit_pod_netns n1-a)" addr add "$spoofed/32" dev eth0
  kit_pod_exec n1-a ping -c 2 -i 0.2 -W 1 -I "$spoofed" "${POD_IP[n1-b]}" >/dev/null 2>&1 || true
  ip -n "$(kit_pod_netns n1-a)" addr del "$spoofed/32" dev eth0
  wait "$pid" 2>/dev/null || true
  if [[ -s $log ]]; then
    head -n 6 "$log" | demo_show
  else
    demo_info "(no events printed)"
  fi
}

demo_step 9/12 "shuttlectl on node n1"
if [[ ! -x $bin/shuttlectl ]]; then
  demo_skip "no $bin/shuttlectl"
elif ! node_has_pins n1; then
  demo_skip "no datapath pinned on n1 ($BPFFS_ROOT): the plugin does not load it yet"
else
  for command in endpoints routes nodes config stats status; do
    if have_shuttlectl_command "$command"; then
      demo_cmd "shuttlectl $command"
      kit_node_exec n1 SHUTTLED_ETCD_ENDPOINTS="$(kit_etcd_endpoint)" SHUTTLED_ETCD_PREFIX="$ETCD_PREFIX" \
        "$bin/shuttlectl" "$command" 2>&1 | demo_show || true
    else
      demo_skip "shuttlectl $command (this build's shuttlectl has no such command)"
    fi
  done
  if have_shuttlectl_command monitor; then
    show_monitor
  else
    demo_skip "shuttlectl monitor (this build's shuttlectl has no such command)"
  fi
fi

demo_step 10/12 "bpftool views of the pinned maps on n1"
if ! node_has_pins n1; then
  demo_skip "no datapath pinned on n1 ($BPFFS_ROOT)"
else
  maps=$BPFFS_ROOT/v1/maps
  demo_cmd "bpftool map dump pinned $maps/endpoint_meta"
  kit_node_exec n1 bpftool map dump pinned "$maps/endpoint_meta" | demo_show
  for pod in n1-a n1-b; do
    slot=${POD_IP[$pod]##*.} # offset in the node's /24
    demo_cmd "bpftool map lookup pinned $maps/endpoints key $slot 0 0 0   ($pod's slot)"
    kit_node_exec n1 bpftool -j map lookup pinned "$maps/endpoints" key "$slot" 0 0 0 |
      jq -c '(.formatted // .).value' | demo_show
  done
  demo_cmd "bpftool map dump pinned $maps/routes"
  routes=$(kit_node_exec n1 bpftool -j map dump pinned "$maps/routes" | jq length)
  if ((routes > 0)); then
    kit_node_exec n1 bpftool map dump pinned "$maps/routes" | head -30 | demo_show
  else
    demo_skip "the routes map is empty: shuttled does not fill remote subnets yet"
  fi
  demo_cmd "bpftool map dump pinned $maps/stats   (non-zero counters, summed over CPUs)"
  kit_node_exec n1 bpftool -j map dump pinned "$maps/stats" |
    jq -r '.[] | (.formatted // .) | {key: .key, p: ([.values[].value.packets] | add), b: ([.values[].value.bytes] | add)}
           | select(.p > 0) | "slot \(.key) (verdict*16+reason): \(.p) packets, \(.b) bytes"' 2>&1 | demo_show
fi

demo_step 11/12 "a short benchmark: shuttle, bridge, flannel-style, the limit; CNI ADD/DEL (tools/bench/suite.sh --quick)"
if [[ -z $bench ]]; then
  demo_info "skipped (--no-bench)"
else
  demo_info "its setups were built in the background since the start; from now on it runs alone"
  touch "$BENCH_GO"
  follow_bench
  status=0
  wait "$BENCH_PID" || status=$?
  BENCH_PID=
  ((status == 0)) || demo_fail "the benchmark failed (output above)"
fi

if [[ -n $keep ]]; then
  demo_step 12/12 "keep the cluster (--keep)"
  DEMO_DONE=1
  demo_ok "kept: cluster run $(kit_run_id) (demo pid $$): etcd, ${#NODES[@]} nodes with shuttled, ${#PODS[@]} pods"
  for node in "${NODES[@]}"; do
    demo_info "enter $node: nsenter --target $(kit_node_pid "$node") --net --mount"
  done
  for pod in "${PODS[@]}"; do
    demo_info "pod $pod (${POD_IP[$pod]}): ip netns exec $(kit_pod_netns "$pod") ..."
  done
  demo_info "etcd: $(kit_etcd_endpoint): ip netns exec $(kit_underlay_netns) etcdctl --endpoints $(kit_etcd_endpoint) ..."
  demo_info "remove it: kill $$      (if that process is gone: bash $repo/tools/cluster/sweep.sh)"
  [[ -z ${DEMO_KEPT_FILE:-} ]] || echo "$$" >"$DEMO_KEPT_FILE"
  # Detach from the caller's terminal; the kit's TERM trap removes everything.
  exec >>"$(kit_run_dir)/demo.log" 2>&1 </dev/null
  trap - ERR
  DEMO_SLEEP_PID=
  kit_on_exit '[[ -z $DEMO_SLEEP_PID ]] || kill $DEMO_SLEEP_PID 2>/dev/null || true'
  while :; do
    sleep 3600 &
    DEMO_SLEEP_PID=$!
    wait "$DEMO_SLEEP_PID" || true
  done
fi

demo_step 12/12 "clean up"
for pod in "${PODS[@]}"; do
  out=$(cni_conflist "${POD_NODE[$pod]}" DEL "demo-$pod" "$pod" "$(kit_node_conf_dir "${POD_NODE[$pod]}")/10-shuttle.conflist") ||
    demo_fail "CNI DEL of pod $pod: $out"
done
demo_ok "CNI DEL of all ${#PODS[@]} pods"
if node_has_pins n1; then
  left=$(kit_node_exec n1 "$bin/shuttlectl" --json endpoints | jq 'if type == "array" then length else (.endpoints | length) end')
  demo_ok "endpoints left in n1's datapath after DEL: $left"
fi
DEMO_DONE=1
run_id=$(kit_run_id)
kit_down
left=$(ip netns list 2>/dev/null | grep -c "^$KIT_NETNS_PREFIX$run_id-" || true)
[[ $left == 0 && ! -e $KIT_ROOT/$run_id ]] || demo_fail "teardown left $left namespaces / $KIT_ROOT/$run_id"
for pid in "$(kit_etcd_pid)" "${SHUTTLED_PID[@]}"; do
  [[ -z $pid ]] || ! kit__starttime "$pid" >/dev/null || demo_fail "process $pid survived the teardown"
done
demo_ok "removed: etcd, ${#NODES[@]} nodes and their holders, shuttled, ${#PODS[@]} pods; no namespace of run $run_id left"
printf '\n%sdemo done in %ds%s\n' "$DEMO_BOLD" $((EPOCHSECONDS - DEMO_T0)) "$DEMO_OFF"
