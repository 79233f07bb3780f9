# shellcheck shell=bash
# Load during a datapath replacement, shared by tests/cluster/upgrade_under_load.sh (asserts)
# and tools/bench/upgrade.sh (prints the table). Needs agent_cluster_lib.bash sourced: a kit
# cluster n1, n2 with shuttled; pods a, b on n1 and c on n2 (upgrade_cluster_up).
#
# One "window" runs, from pod a to b (same node: "local") and to c (across nodes:
# "remote"), at once: an iperf3 TCP stream (0.1 s intervals), a sockperf TCP ping-pong
# (request/response on one connection) and a 10 ms ping; the replacement runs in the middle.
# Every pod's TcpEstabResets and TcpOutRsts (nstat, absolute: each pod is its own netns) are
# read just before the replacement and after it, while the load still runs.

UPGRADE_SECONDS=${UPGRADE_SECONDS:-6}      # length of each load window
UPGRADE_AT=${UPGRADE_AT:-2}                # seconds into the window the replacement starts
UPGRADE_STREAM_RATE=${UPGRADE_STREAM_RATE:-200M}  # iperf3 -b: leaves CPU for the rest

UPGRADE_TOOL=$bin/test-other-build

# upgrade_cluster_up: nodes n1, n2 with shuttled on etcd, pods a, b on n1 and c on n2; sets
# POD_IP[a|b|c] and UPGRADE_SERIAL (the serial of the build pinned now: this one's).
declare -gA POD_IP=()
upgrade_cluster_up() {
  local n
  agent_cluster_up 2
  for n in n1 n2; do start_shuttled "$n"; done
  for n in n1 n2; do wait_ready "$n"; done
  POD_IP[a]=$(add_pod n1 a)
  POD_IP[b]=$(add_pod n1 b)
  POD_IP[c]=$(add_pod n2 c)
  wait_until 20 "a reaches c across nodes" pod_ping a "${POD_IP[c]}" 1
  wait_until 10 "a reaches b" pod_ping a "${POD_IP[b]}" 1
  UPGRADE_SERIAL=$(pinned_serial n1)
}

# replace_both <object> <serial> <layout>: that build's ensure() on n1, then on n2.
replace_both() {
  local n
  for n in n1 n2; do kit_node_exec "$n" "$UPGRADE_TOOL" ensure "$@" || return 1; done
}

# The serial of the build whose programs are pinned on <node>.
pinned_serial() { kit_node_exec "$1" "$bin/shuttlectl" --json status | jq -r .pinned_serial; }

upgrade__resets() {
  local pod
  for pod in a b c; do
    kit_pod_exec "$pod" nstat -asz TcpEstabResets TcpOutRsts |
      awk -v pod="$pod" '$1 ~ /^Tcp/ {print pod, $1, $2}'
  done
}

# upgrade_window <name> <command...>: runs the load, runs the command UPGRADE_AT seconds in,
# waits for the load; results in $(kit_run_dir)/window-<name>/: replace.out (the command's
# stdout, its exit code in replace.rc), resets-before/after, and per path (local, remote)
# iperf.json + iperf.rc, sockperf.log + sockperf.rc, ping.log + ping.rc.
upgrade_window() {
  local name=$1 dir path ip pids=() port=0
  shift
  dir=$(kit_run_dir)/window-$name
  mkdir -p "$dir"
  for path in local remote; do
    ip=${POD_IP[b]}
    [[ $path == remote ]] && ip=${POD_IP[c]}
    port=$((port + 1))
    local server=b
    [[ $path == remote ]] && server=c
    kit_pod_spawn "$server" "$dir/$path-iperf-server.log" iperf3 -s -1 -B "$ip" -p $((5200 + port))
    kit_pod_spawn "$server" "$dir/$path-sockperf-server.log" sockperf server --tcp -i "$ip" -p $((11110 + port))
  done
  sleep 0.5
  port=0
  for path in local remote; do
    ip=${POD_IP[b]}
    [[ $path == remote ]] && ip=${POD_IP[c]}
    port=$((port + 1))
    (kit_pod_exec a iperf3 -c "$ip" -p $((5200 + port)) -t "$UPGRADE_SECONDS" -i 0.1 \
      -b "$UPGRADE_STREAM_RATE" -J >"$dir/$path-iperf.json" 2>&1
      echo $? >"$dir/$path-iperf.rc") &
    pids+=($!)
    (kit_pod_exec a sockperf ping-pong --tcp -i "$ip" -p $((11110 + port)) -t "$UPGRADE_SECONDS" \
      --mps 1000 >"$dir/$path-sockperf.log" 2>&1
      echo $? >"$dir/$path-sockperf.rc") &
    pids+=($!)
    (kit_pod_exec a ping -D -i 0.01 -W 1 -c $((UPGRADE_SECONDS * 100)) "$ip" >"$dir/$path-ping.log" 2>&1
      echo $? >"$dir/$path-ping.rc") &
    pids+=($!)
  done
  sleep "$UPGRADE_AT"
  upgrade__resets >"$dir/resets-before"
  local rc=0
  "$@" >"$dir/replace.out" 2>&1 || rc=$?
  echo "$rc" >"$dir/replace.rc"
  sleep 1
  upgrade__resets >"$dir/resets-after"
  wait "${pids[@]}" || true
}

# What one window measured, one line per path:
#   <path> <iperf rc> <sockperf rc> <ping lost> <ping sent> <longest ping gap ms>
#   <longest stream gap ms> <lowest 0.1 s interval, % of median> <sockperf max us> <resets>
upgrade_results() {
  local dir path resets
  dir=$(kit_run_dir)/window-$1
  resets=$(join <(sort "$dir/resets-before" | awk '{print $1"/"$2, $3}') \
    <(sort "$dir/resets-after" | awk '{print $1"/"$2, $3}') | awk '{s += $3 - $2} END {print s + 0}')
  for path in local remote; do
    local iperf_rc sock_rc sent received ping_gap stream_gap low sock_max
    iperf_rc=$(cat "$dir/$path-iperf.rc")
    sock_rc=$(cat "$dir/$path-sockperf.rc")
    sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$dir/$path-ping.log")
    received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$dir/$path-ping.log")
    ping_gap=$(sed -n 's/^\[\([0-9.]*\)\] .*icmp_seq=.*/\1/p' "$dir/$path-ping.log" |
      awk 'NR > 1 {g = ($1 - p) * 1000; if (g > m) m = g} {p = $1} END {printf "%.0f", m}')
    stream_gap=$(jq '[.intervals[].sum.bytes] | reduce .[] as $b ({run: 0, max: 0};
      if $b == 0 then .run += 1 | .max = ([.max, .run] | max) else .run = 0 end) | .max * 100' \
      "$dir/$path-iperf.json" 2>/dev/null || echo "?")
    low=$(jq '[.intervals[].sum.bytes] | sort as $s | ($s[length / 2 | floor]) as $m |
      if $m > 0 then ($s[0] * 100 / $m | floor) else 0 end' "$dir/$path-iperf.json" 2>/dev/null || echo "?")
    sock_max=$(sed -n 's/.*<MAX> observation = *\([0-9.]*\).*/\1/p' "$dir/$path-sockperf.log" | head -1)
    echo "$path $iperf_rc $sock_rc $((${sent:-0} - ${received:-0})) ${sent:-0} ${ping_gap:-?}" \
      "$stream_gap $low ${sock_max:-?} $resets"
  done
}
