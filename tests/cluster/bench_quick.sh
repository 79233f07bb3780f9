#!/usr/bin/env bash
# The benchmark's quick mode in CI (issue 12: "the benchmark only its quick mode"):
# tools/bench/suite.sh --quick (the demo's run: every scenario, 1 round) must exit 0, and its
# report must hold every row it promises with a number: the IPv4 and IPv6 datapath rows, same
# node (limit, bridge, shuttle and their -v6) and cross node (underlay, flannel, shuttle-x,
# shuttle-x-dev; underlay-v6, flannel-v6, shuttle-x-v6), each with TCP Gbit/s, round trip and
# 64-byte UDP rate; CNI, BPF and routes figures; the issues' IPv6 targets measured (met or
# missed: under a parallel ctest the figures are a smoke run, not a benchmark, and no figure
# is asserted); nothing "not available yet"; and no namespace of its kit runs left.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source=${SHUTTLE_SOURCE_DIR:-$here/../..}
bin=${SHUTTLE_BIN_DIR:-$source/build/bin}
# shellcheck source=tools/cluster/assert.sh
source "$source/tools/cluster/assert.sh"
source "$source/tools/cluster/state.sh"
work=$(mktemp -d /tmp/shuttle-bench-quick-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

for tool in "$bin/shuttle" "$bin/shuttled" "$bin/shuttle_bpf_tests"; do
  assert_exists "$tool" "the quick suite measures it (build it first)"
done
out=$work/out
status=0
start=$SECONDS
SHUTTLE_BIN_DIR=$bin bash "$source/tools/bench/suite.sh" --quick --out "$out" >"$work/suite.log" 2>&1 || status=$?
echo "suite.sh --quick: exit $status after $((SECONDS - start)) s"
cat "$work/suite.log"
assert_eq 0 "$status" "suite.sh --quick exit status"
report=$out/report.md
assert_exists "$report"
text=$(cat "$report")

# Every datapath row and figure: a positive number in figures.csv, and a number in the
# report's summary table (its "median (min–max)" cells; "-" when a figure is missing).
same4=(limit bridge shuttle) cross4=(underlay flannel shuttle-x shuttle-x-dev)
same6=(limit-v6 bridge-v6 shuttle-v6) cross6=(underlay-v6 flannel-v6 shuttle-x-v6)
for setup in "${same4[@]}" "${cross4[@]}" "${same6[@]}" "${cross6[@]}"; do
  for metric in tcp_gbps rr_avg_us udp_pps; do
    value=$(awk -F, -v s="$setup" -v m="$metric" '$1 == "datapath" && $3 == s && $4 == m {print $5}' "$out/figures.csv")
    if ! [[ $value =~ ^[0-9.e+-]+$ ]] || ! awk -v v="$value" 'BEGIN {exit !(v > 0)}'; then
      fail "datapath $setup $metric: no positive figure in figures.csv (got '$value')"
    fi
  done
done
summary() { # first-column header of one summary table (IPv4: limit, IPv6: limit-v6)
  awk -v h="| figure | $1 |" 'index($0, h) == 1 {on = 1} on && !/^\|/ {exit} on' "$report"
}
for family in 4 6; do
  if [[ $family == 4 ]]; then cols=("${same4[@]}" "${cross4[@]}"); else cols=("${same6[@]}" "${cross6[@]}"); fi
  table=$(summary "${cols[0]}")
  assert_eq "| figure |$(printf ' %s |' "${cols[@]}")" "$(head -n1 <<<"$table")" \
    "IPv$family summary: one column per setup, same node and cross node"
  for metric in tcp_gbps rr_avg_us udp_pps; do
    line=$(grep -F "| $metric (" <<<"$table") || fail "IPv$family summary has no $metric row"
    cells=$(awk -F' [|] ' '{for (i = 2; i <= NF; i++) print $i}' <<<"${line% |}")
    assert_eq "${#cols[@]}" "$(grep -cE '^[0-9.]+ \([0-9.]+–[0-9.]+\)$' <<<"$cells")" \
      "IPv$family summary $metric: a number for every setup ($line)"
  done
done
pass "every datapath row measured: IPv4 and IPv6, same node and cross node, TCP Gbit/s, round trip, UDP rate"

for section in "## Same node over IPv6: pod to pod" "## Cross node over IPv6: pod to pod over the dual-stack underlay" \
  "## CNI plugin: ADD / DEL" "## BPF: overlay paths" "## BPF: direct overlay paths" "## BPF: from_pod's IPv6 paths" \
  "## shuttled: routes map in line with etcd"; do
  assert_contains "$text" "$section" "report section"
done
for target in "same node IPv6 round trip" "same node IPv6 64-byte UDP rate" "cross node IPv6 round trip" \
  "cross node round trip, shuttle × flannel-style" "routes map in line after 1,000 new leases"; do
  line=$(grep -F "| $target" <<<"$text") || fail "no target row '$target'"
  grep -qE '\| (met|missed) \|$' <<<"$line" || fail "target not measured: $line"
done
assert_not_contains "$text" "not available yet" "a scenario or setup was not available"
pass "CNI, BPF and routes sections there; the IPv6 targets measured (met or missed)"

# The scenarios' kit runs ("<scenario>: run <id>, ...") are gone.
runs=$(sed -n 's/^[a-z]*: run \([0-9a-f]\{6\}\),.*/\1/p' "$out"/*.log | sort -u)
assert_eq 3 "$(grep -c . <<<"$runs")" "kit runs named in the datapath, cni and routes logs"
for run in $runs; do
  assert_eq "" "$(ip netns list 2>/dev/null | grep "^$KIT_NETNS_PREFIX$run-" || true)" "namespaces of run $run left"
  assert_absent "$KIT_ROOT/$run"
done
pass "suite.sh --quick: exit 0, every row measured, its kit runs removed"
