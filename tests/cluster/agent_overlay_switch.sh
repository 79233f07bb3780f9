#!/usr/bin/env bash
# shuttled's overlay mode on a running node. A TCP stream and a 100/s ping between pods on
# n1 and n2 run while n1's shuttled restarts direct -> device -> direct: the stream has no
# empty half second and the ping's gap is reported. Each mode shows in node_config, status,
# /readyz and the counters it moves. The 5 s repair re-attaches from_underlay when its link
# goes; an underlay that is not Ethernet (n3: a tun device) falls back to device mode and
# says so in the log and /readyz.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 3
start_shuttled n1
start_shuttled n2
wait_ready n1
wait_ready n2
ip1=$(add_pod n1 w1)
ip2=$(add_pod n2 w2)
assert_ok "w1 -> w2" pod_ping w1 "$ip2"

expect_mode() { # <mode>
  local status
  status=$(kit_node_exec n1 "$bin/shuttlectl" --json status)
  assert_eq "$1" "$(jq -r .overlay_mode <<<"$status")" "$1: status overlay_mode"
  assert_contains "$(readyz n1)" "overlay $1" "$1: /readyz names the mode"
  if [[ $1 == direct ]]; then
    assert_eq "eth0 true" "$(jq -r '"\(.underlay.ifname) \(.underlay.attached)"' <<<"$status")" \
      "direct: status shows from_underlay attached to eth0"
    assert_contains "$(kit_node_exec n1 "$bin/shuttlectl" status)" "underlay  eth0" "direct: status table"
  else
    assert_eq null "$(jq -c .underlay <<<"$status")" "device: no underlay attachment"
    assert_eq 0 "$(tcx_count n1 eth0 ingress)" "device: no TCX program on eth0"
  fi
}

# moves <mode>: the counters of that mode's paths rise with pod traffic both ways.
moves() {
  local send=encap-direct receive=decap-direct s r
  [[ $1 == direct ]] || { send=remote receive=decap; }
  s=$(stat_count n1 redirect "$send")
  r=$(stat_count n1 redirect "$receive")
  pod_ping w1 "$ip2" 3 >/dev/null || fail "$1: w1 -> w2 ping"
  (($(stat_count n1 redirect "$send") > s)) || fail "$1: redirect $send did not move"
  (($(stat_count n1 redirect "$receive") > r)) || fail "$1: redirect $receive did not move"
}

expect_mode direct
moves direct
pass "direct mode by default: from_underlay on eth0, encap-direct and decap-direct move"

kit_pod_spawn w2 "$(kit_run_dir)/iperf-s.log" iperf3 -s -1 -B "$ip2"
sleep 0.5
stream=$(kit_run_dir)/iperf-c.json
kit_pod_spawn w1 "$stream" iperf3 -c "$ip2" -t 12 -i 0.5 -b 50M -J
client=$KIT_LAST_PID
pings=$(kit_run_dir)/ping.log
kit_pod_spawn w1 "$pings" ping -i 0.01 -c 1100 -W 1 "$ip2"
pinger=$KIT_LAST_PID
sleep 2
switch_to() { # <mode>
  kit_stop "${SHUTTLED_PID[n1]}"
  start_shuttled n1 --overlay "$1"
  wait_ready n1
  expect_mode "$1"
  moves "$1"
  sleep 2
}
switch_to device
switch_to direct
status=0
wait "$client" || status=$?
assert_eq 0 "$status" "iperf3 exit code (log: $(tail -c 300 "$stream"))"
wait "$pinger" || true
empty=$(jq '[.intervals[].sum.bytes | select(. == 0)] | length' "$stream")
slowest=$(jq '[.intervals[].sum.bits_per_second] | min / 1e6' "$stream")
lost=$(awk '/packets transmitted/ {print $1 - $4}' "$pings")
echo "mode switches under load: slowest 0.5 s interval $(printf '%.1f' "$slowest") Mbit/s of 50; ping every 10 ms lost $lost of 1100 (gap <= $((lost * 10)) ms)"
assert_eq 0 "$empty" "half-second intervals without a byte while n1 switched modes"
((lost <= 20)) || fail "ping lost $lost packets (> 200 ms) across the mode switches"
pass "switching direct -> device -> direct keeps the stream"

# ---- repair: the underlay link goes behind shuttled's back -------------------------------
kit_node_exec n1 sh -c 'find /sys/fs/bpf/shuttle -path "*links*underlay*" -type f -delete'
# The link dies with its last pin; shuttled's next check (every 5 s) may re-attach before a
# poll sees it gone, so the proof of the detach is shuttled's own log line, then the count.
wait_until 12 "shuttled sees from_underlay detached" \
  eval '[[ $(shuttled_log n1) == *"underlay program not attached to eth0"* ]]'
wait_until 12 "shuttled re-attaches from_underlay" eval '[[ $(tcx_count n1 eth0 ingress) == 1 ]]'
expect_mode direct
moves direct
pass "the 5 s repair re-attaches from_underlay"

# ---- fallback: an underlay that is not Ethernet ---------------------------------------------
kit_node_exec n3 ip tuntap add dev tun0 mode tun
kit_node_exec n3 ip addr add 192.168.78.3/24 dev tun0
kit_node_exec n3 ip link set tun0 up
start_shuttled n3 --iface tun0 --public-ip 192.168.78.3
wait_ready n3
assert_contains "$(readyz n3)" "overlay device (fallback: underlay tun0 is not Ethernet" "/readyz says why"
assert_contains "$(shuttled_log n3)" "falling back to device mode" "the log says so"
assert_eq device "$(overlay_mode n3)" "n3 in device mode"
pass "a non-Ethernet underlay falls back to device mode, said in the log and /readyz"
