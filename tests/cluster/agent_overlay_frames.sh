#!/usr/bin/env bash
# The direct overlay's frames on the wire. One exact inner packet (raw socket: fixed IP ID,
# ports, payload) from a pod on n1 to a pod on n2, captured on n1's port of the underlay
# bridge, once with n1 in direct mode (from_pod pushes the headers) and once in device mode
# (the kernel's VXLAN device does): every outer field but the UDP source port, the IP ID and
# the IP checksum is equal, the inner frames are equal byte for byte, both source ports are
# in the node's ephemeral range. Then GSO: a TCP stream pod -> pod in direct mode crosses the
# underlay as VXLAN frames larger than the MTU (segmented after the underlay, where the
# kernel's own VXLAN GSO would be), with few retransmissions (nstat TcpRetransSegs).
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2
start_shuttled n1
start_shuttled n2
wait_ready n1
wait_ready n2
n1_ip=$(kit_node_ip n1)
ipa=$(add_pod n1 fa)
ipb=$(add_pod n2 fb)
assert_ok "fa -> fb" pod_ping fa "$ipb"
port=k$(kit_run_id)-n1
read -r port_lo port_hi < <(kit_node_exec n1 cat /proc/sys/net/ipv4/ip_local_port_range)

# capture_inner <out>: one VXLAN frame n1 sends, carrying the fixed inner packet.
capture_inner() {
  local out=$1 capture
  kit_underlay_exec "$py" "$frames_py" capture --iface "$port" --src "$n1_ip" --count 1 \
    --seconds 5 >"$out" 2>"$out.err" &
  capture=$!
  wait_until 15 "capture open" grep -q capturing "$out.err"
  kit_pod_exec fa "$py" "$frames_py" inner --src "$ipa" --dst "$ipb" --id 0x2a2a ||
    fail "sending the inner packet failed"
  wait "$capture" || fail "capture failed: $(cat "$out.err")"
  [[ -s $out ]] || fail "no VXLAN frame from n1 captured on $port"
}

assert_eq direct "$(overlay_mode n1)" "n1 in direct mode (the default)"
encap_before=$(stat_count n1 redirect encap-direct)
capture_inner "$(kit_run_dir)/frame-direct.hex"
(($(stat_count n1 redirect encap-direct) > encap_before)) || fail "the direct frame was not encap-direct"

kit_stop "${SHUTTLED_PID[n1]}"
start_shuttled n1 --overlay device
wait_ready n1
assert_eq device "$(overlay_mode n1)" "n1 in device mode"
remote_before=$(stat_count n1 redirect remote)
capture_inner "$(kit_run_dir)/frame-device.hex"
(($(stat_count n1 redirect remote) > remote_before)) || fail "the device frame did not take the device"

echo "A = direct mode (from_pod), B = device mode (kernel VXLAN device):"
kit_node_exec n1 "$py" "$frames_py" compare "$(kit_run_dir)/frame-direct.hex" \
  "$(kit_run_dir)/frame-device.hex" --port-range "$port_lo" "$port_hi" ||
  fail "the direct-mode frame differs from the device's in a field that must be equal"
pass "a direct-mode frame equals the kernel device's but for UDP source port, IP ID and checksum"

# ---- GSO: a TCP stream in direct mode --------------------------------------------------
kit_stop "${SHUTTLED_PID[n1]}"
start_shuttled n1
wait_ready n1
assert_eq direct "$(overlay_mode n1)" "n1 back in direct mode"
mtu=$(kit_node_exec n1 cat /sys/class/net/eth0/mtu)
kit_pod_spawn fb "$(kit_run_dir)/iperf-s.log" iperf3 -s -1 -B "$ipb"
sleep 0.5
lengths=$(kit_run_dir)/gso-lengths.txt
kit_underlay_exec "$py" "$frames_py" capture --iface "$port" --src "$n1_ip" --count 2000 \
  --seconds 6 --lengths >"$lengths" 2>"$lengths.err" &
capture=$!
wait_until 15 "capture open" grep -q capturing "$lengths.err"
encap_before=$(stat_count n1 redirect encap-direct)
stream=$(kit_run_dir)/iperf-c.json
kit_pod_exec fa iperf3 -c "$ipb" -t 3 -J >"$stream" || fail "iperf3 failed: $(tail -c 300 "$stream")"
wait "$capture" || true
frames=$(wc -l <"$lengths")
largest=$(sort -n "$lengths" | tail -1)
over=$(awk -v m="$mtu" '$1 > m + 14' "$lengths" | wc -l)
retrans=$(kit_pod_exec fa nstat -asz TcpRetransSegs | awk '/TcpRetransSegs/ {print $2}')
out_segs=$(kit_pod_exec fa nstat -asz TcpOutSegs | awk '/TcpOutSegs/ {print $2}')
gbps=$(jq '.end.sum_received.bits_per_second / 1e9' "$stream")
echo "TCP stream fa -> fb (direct): $(printf '%.2f' "$gbps") Gbit/s; $frames VXLAN frames captured on the underlay, largest $largest bytes (MTU $mtu), $over above MTU + 14; TcpRetransSegs $retrans of $out_segs segments"
(($(stat_count n1 redirect encap-direct) > encap_before)) || fail "the stream did not take the direct path"
((over > 0)) || fail "no frame above the MTU: GSO did not survive the encapsulation"
((retrans * 100 <= out_segs)) || fail "retransmission storm: $retrans of $out_segs segments"
pass "GSO: the direct path hands super-frames to the underlay, no retransmission storm"
