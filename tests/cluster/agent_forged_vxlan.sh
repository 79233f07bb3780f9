#!/usr/bin/env bash
# Forged tunnel packets are refused, in both overlay modes (direct: from_underlay on eth0;
# device: from_overlay behind the kernel's VXLAN device). n1 runs a pod listening on UDP
# 5555; VXLAN datagrams carrying a UDP packet for it arrive from
#   - a host on the underlay that is not a node        -> drop unknown-node
#   - node n2, inner source outside n2's subnet         -> drop forged-inner-src
#   - node n2, VNI 2                                    -> drop wrong-vni
#   - node n2, inner source in n2's subnet (the control) -> delivered
# The pod receives only the control; each counter moves and monitor names each reason (and,
# over IPv6, the inner IPv6 source and destination of the forged-inner-src drop).
# The network is dual-stack: then the same three forgeries and the control over IPv6 (an IPv6
# outer header to n1's PublicIPv6, an IPv6 packet for the pod's IPv6 address), which
# from_overlay checks by the peers6 map shuttled writes.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2 "$FLANNEL6_CONFIG"
kit_underlay_dual_stack
start_shuttled n2
kit_underlay_host forger "$KIT_UNDERLAY_NET.99" "${KIT_UNDERLAY_NET6}:99"
wait_ready n2
n1_ip=$(kit_node_ip n1)
sub2=$(node_subnet_key n2)
sub2=${sub2%.0-24}

# send <where: node n2 | pod forger> <payload> [vxlan_frames.py send options...]
send() {
  local kind=$1 where=$2 payload=$3
  shift 3
  local run=(kit_node_exec "$where")
  [[ $kind == node ]] || run=(kit_pod_exec "$where")
  "${run[@]}" "$py" "$frames_py" send --to "$n1_ip" --inner-dst-mac "$vtep1" \
    --inner-dst "$pod_ip" --payload "$payload" "$@" || fail "sending $payload failed"
}

declare -A before
reasons=(unknown-node forged-inner-src wrong-vni)
for mode in direct device; do
  start_shuttled n1 --overlay "$mode"
  wait_ready n1
  assert_eq "$mode" "$(overlay_mode n1)" "$mode: node_config's overlay mode"
  if [[ -z ${pod_ip:-} ]]; then
    pod_ip=$(add_pod n1 p1)
    vtep1=$(kit_node_exec n1 cat /sys/class/net/shuttle.1/address)
    sub1=${pod_ip%.*}
  fi
  for r in "${reasons[@]}"; do before[$r]=$(stat_count n1 drop "$r"); done
  listen_log=$(kit_run_dir)/listen-$mode.log
  # Ends once the control (sent last) arrives: anything forged that got through came first.
  kit_pod_spawn p1 "$listen_log" "$py" "$frames_py" listen --ip "$pod_ip" --seconds 30 \
    --until "valid-$mode"
  listener=$KIT_LAST_PID
  monitor_log=$(kit_run_dir)/monitor-$mode.log
  kit_node_spawn n1 "$monitor_log" "$bin/shuttlectl" --json monitor
  monitor=$KIT_LAST_PID
  wait_until 10 "listener up" grep -q listening "$listen_log"
  sleep 0.5 # the monitor's ring buffer open
  send pod forger "forged-unknown-node" --inner-src "$sub2.77"
  send node n2 "forged-inner-src" --inner-src "$sub1.200"
  send node n2 "forged-vni" --inner-src "$sub2.77" --vni 2
  send node n2 "valid-$mode" --inner-src "$sub2.77"
  wait "$listener" || true
  assert_eq "listening
valid-$mode" "$(cat "$listen_log")" "$mode: the pod received the control datagram and nothing forged"
  moved() { local r; for r in "${reasons[@]}"; do (($(stat_count n1 drop "$r") > before[$r])) || return 1; done; }
  wait_until 10 "$mode: every refusal counted" moved
  for r in "${reasons[@]}"; do echo "$mode: drop $r ${before[$r]} -> $(stat_count n1 drop "$r")"; done
  wait_until 10 "$mode: monitor printed the three drops" eval "(( \$(wc -l <'$monitor_log') >= 3 ))"
  kit_stop "$monitor"
  for r in "${reasons[@]}"; do
    assert_contains "$(jq -r .reason "$monitor_log" | sort -u)" "$r" "$mode: monitor shows $r"
  done
  pass "$mode mode: forged VXLAN refused with its reason, the control delivered"
  kit_stop "${SHUTTLED_PID[n1]}"
done
assert_contains "$(kit_node_exec n1 "$bin/shuttlectl" stats)" "forged-inner-src" "stats table names the reason"

# --- IPv6 outer headers: the same checks in from_overlay, by peers6 -------------------------
start_shuttled n1
wait_ready n1
n1_ip6=$(kit_node_ip6 n1)
pod6=$(pod6 p1)
sub2v6=$(node_subnet6 n2)
[[ -n $pod6 && -n $sub2v6 ]] || fail "no IPv6 pod address ($pod6) or n2 IPv6 subnet ($sub2v6)"
peers6() { kit_node_exec n1 bpftool -j map dump pinned /sys/fs/bpf/shuttle/v1/maps/peers6 | jq length; }
wait_until 10 "n1's shuttled wrote n2 into peers6" eval '[ "$(peers6)" = 1 ]'
send6() {
  local kind=$1 where=$2 payload=$3
  shift 3
  local run=(kit_node_exec "$where")
  [[ $kind == node ]] || run=(kit_pod_exec "$where")
  "${run[@]}" "$py" "$frames_py" send --to "$n1_ip6" --inner-dst-mac "$vtep1" \
    --inner-dst "$pod6" --payload "$payload" "$@" || fail "sending $payload failed"
}
for r in "${reasons[@]}"; do before[$r]=$(stat_count n1 drop "$r"); done
listen_log=$(kit_run_dir)/listen-ipv6.log
kit_pod_spawn p1 "$listen_log" "$py" "$frames_py" listen --ip "$pod6" --seconds 30 --until valid-ipv6
listener=$KIT_LAST_PID
wait_until 10 "IPv6 listener up" grep -q listening "$listen_log"
monitor_log=$(kit_run_dir)/monitor-ipv6.log
kit_node_spawn n1 "$monitor_log" "$bin/shuttlectl" --json monitor
monitor=$KIT_LAST_PID
sleep 0.5 # the monitor's ring buffer open
send6 pod forger "forged6-unknown-node" --inner-src "${sub2v6}77"
send6 node n2 "forged6-inner-src" --inner-src "${pod6%::*}::200"
send6 node n2 "forged6-vni" --inner-src "${sub2v6}77" --vni 2
send6 node n2 "valid-ipv6" --inner-src "${sub2v6}77"
wait "$listener" || true
assert_eq "listening
valid-ipv6" "$(cat "$listen_log")" "IPv6: the pod received the control datagram and nothing forged"
wait_until 10 "IPv6: every refusal counted" moved
for r in "${reasons[@]}"; do echo "IPv6: drop $r ${before[$r]} -> $(stat_count n1 drop "$r")"; done
# The events carry the inner IPv6 addresses (shuttle_event's saddr6/daddr6), the pod's name.
forged6_event() { jq -c 'select(.reason == "forged-inner-src" and (.src | contains(":")))' "$monitor_log"; }
wait_until 10 "IPv6: monitor printed the forged-inner-src drop" eval '[ -n "$(forged6_event)" ]'
kit_stop "$monitor"
pod_name=$(kit_node_exec n1 "$bin/shuttlectl" --json endpoints | jq -r --arg ip "$pod6" '.[] | select(.ip6 == $ip) | .pod')
assert_eq "${pod6%::*}::200 $pod6 $pod_name 17 0x86dd" \
  "$(forged6_event | head -n1 | jq -r '"\(.src) \(.dst) \(.dst_pod) \(.ip_proto) \(.eth_proto)"')" \
  "IPv6: monitor shows the forged packet's IPv6 source and destination, the pod's name, next header UDP"
pass "IPv6 outer headers: forged VXLAN refused with its reason (unknown-node, forged-inner-src, wrong-vni), the control delivered, monitor names the IPv6 addresses"
kit_stop "${SHUTTLED_PID[n1]}"
