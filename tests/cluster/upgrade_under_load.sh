#!/usr/bin/env bash
# The datapath replaced under load on two nodes with shuttled on a real etcd: first by a
# newer build of the programs with the same map layout, then by a newer build with a new map
# layout (the tests' layout-2 object, tests/support/other_build.h), each while a TCP stream,
# a TCP request/response load and a 10 ms ping run pod-to-pod on a node and across nodes
# (tools/bench/upgrade-load.sh). Asserts: no TCP connection reset (nstat in every pod), every
# stream and ping-pong ends well, the endpoints and routes are there afterwards, and neither
# the running (older) shuttled nor an older plugin swaps the newer programs back. Lost pings
# and gaps are measured, not asserted: tools/bench/upgrade.sh prints them.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"
source "$source_dir/tools/bench/upgrade-load.sh"
bpf_dir=${SHUTTLE_BPF_DIR:-$source_dir/build/bpf}
tool=$UPGRADE_TOOL

upgrade_cluster_up
serial=$UPGRADE_SERIAL
[[ $serial =~ ^[0-9]+$ && $serial -gt 0 ]] || fail "no build serial in shuttlectl status: $serial"

# assert_window <name>: no reset, every load ended well.
assert_window() {
  local path iperf_rc sock_rc lost sent rest resets
  while read -r path iperf_rc sock_rc lost sent _ _ _ _ resets; do
    assert_eq 0 "$iperf_rc" "$1, $path: iperf3 exit code ($(tail -c 300 "$(kit_run_dir)/window-$1/$path-iperf.json"))"
    assert_eq 0 "$sock_rc" "$1, $path: sockperf exit code"
    ((sent > 0)) || fail "$1, $path: no ping sent"
    echo "$1 $path: $lost of $sent pings lost" >&2
    assert_eq 0 "$resets" "$1: TCP resets counted in the pods"
  done < <(upgrade_results "$1")
  assert_eq 0 "$(cat "$(kit_run_dir)/window-$1/replace.rc")" \
    "$1: the replacement ($(cat "$(kit_run_dir)/window-$1/replace.out"))"
}

# (a) A newer build, the same layout, while shuttled (this build, older now) keeps running.
upgrade_window same-layout replace_both "$bpf_dir/shuttle_variant.bpf.o" $((serial + 1)) 1
assert_window same-layout
assert_contains "$(cat "$(kit_run_dir)/window-same-layout/replace.out")" '"programs_loaded":true' \
  "the newer build replaced the programs"
# shuttled's maintain() checks the overlay device every 5 s: it must not swap back. The load
# ran on for 2.5-4 s after the replacement; 4 s more make one full period after it (the test
# runs alone: this wait is the whole suite's).
sleep 4
for n in n1 n2; do
  assert_eq $((serial + 1)) "$(pinned_serial "$n")" "$n keeps the newer build's programs"
  attached=$(kit_node_exec "$n" "$bin/shuttlectl" --json status)
  assert_eq true "$(jq -r .overlay.attached <<<"$attached")" "$n's overlay device runs the pinned programs"
  assert_eq true "$(jq -r .underlay.attached <<<"$attached")" "$n's underlay interface runs the pinned from_underlay"
done
ip_d=$(add_pod n1 d) # the plugin of this (older) build: keeps the newer programs too
assert_eq $((serial + 1)) "$(pinned_serial n1)" "an older plugin's ADD keeps the newer build"
assert_eq "true true true" "$(kit_node_exec n1 "$bin/shuttlectl" --json status | jq -r '[.attachments[].attached] | join(" ")')" \
  "n1's three pods run the pinned programs"
assert_ok "d -> c" pod_ping d "${POD_IP[c]}"
pass "a newer build of the same layout replaced the programs under load; older binaries keep it"

# (b) A newer build with a new map layout. The layout-1 shuttled cannot run on layout 2 (a real
# layout change ships a new shuttled): it stops first; the pinned datapath forwards alone.
for n in n1 n2; do kit_stop "${SHUTTLED_PID[$n]}"; done
kit_cni n1 DEL ctr-d d eth0 "$POD_CONF" >/dev/null || fail "DEL d"
upgrade_window new-layout replace_both "$bpf_dir/shuttle_layout2.bpf.o" $((serial + 2)) 2
assert_window new-layout
for n in n1 n2; do
  shown=$(kit_node_exec "$n" "$tool" show "$bpf_dir/shuttle_layout2.bpf.o" $((serial + 2)) 2)
  assert_eq /sys/fs/bpf/shuttle/v2 "$(jq -r .pin_dir <<<"$shown")" "$n's pins moved to v2"
  assert_eq 1 "$(jq -r .routes <<<"$shown")" "$n's route to the other node carried"
  assert_eq true "$(jq -r .overlay_attached <<<"$shown")" "$n's overlay device runs layout 2's programs"
  assert_eq true "$(jq -r .underlay_attached <<<"$shown")" "$n's underlay interface runs layout 2's from_underlay"
  assert_fails "$n: no layout-1 pins left" kit_node_exec "$n" test -e /sys/fs/bpf/shuttle/v1
  assert_contains "$(kit_node_exec "$n" "$bin/shuttlectl" status 2>&1 || true)" "newer than this build's layout 1" \
    "$n: this build's shuttlectl refuses the newer layout"
done
shown=$(kit_node_exec n1 "$tool" show "$bpf_dir/shuttle_layout2.bpf.o" $((serial + 2)) 2)
assert_eq "2 2" "$(jq -r '"\(.endpoints) \(.attached)"' <<<"$shown")" "n1's pods a and b carried and attached ($shown)"
assert_ok "a -> c after" pod_ping a "${POD_IP[c]}"
assert_ok "c -> b after" pod_ping c "${POD_IP[b]}"
pass "a new map layout carried endpoints and routes and replaced every attachment under load"
