#!/usr/bin/env bash
# The datapath replaced under load (tools/bench/upgrade-load.sh): per round a fresh two-node
# kit cluster with shuttled on etcd, pods a, b on n1 and c on n2; a TCP stream, a TCP
# ping-pong and a 10 ms ping from a to b (local) and to c (remote) while both nodes get
# (1) a newer build of the programs with the same map layout (the tests' variant object),
# (2) a newer build with a new map layout (the tests' layout-2 object), after a baseline
# window with the same load and nothing replaced. Prints one table row per round, window and
# path; writes results.md.
#
#   sudo tools/bench/upgrade.sh [--rounds 3] [--seconds 6] [--rate 200M] [--out DIR]
#
# Needs the test objects and tool: cmake --build build --target test-other-build.
# Not part of ctest (tests/cluster/upgrade_under_load.sh asserts the behaviour).
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/../.." && pwd)
rounds=3
out=$repo/build/bench/upgrade-$(date -u +%Y%m%dT%H%M%SZ)
export SHUTTLE_SOURCE_DIR=$repo SHUTTLE_BIN_DIR=${SHUTTLE_BIN_DIR:-$repo/build/bin}
export SHUTTLE_BPF_DIR=${SHUTTLE_BPF_DIR:-$repo/build/bpf}

usage() { sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
one_round=
while (($#)); do
  case $1 in
  --rounds) rounds=$2; shift 2 ;;
  --seconds) export UPGRADE_SECONDS=$2; shift 2 ;;
  --rate) export UPGRADE_STREAM_RATE=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --one-round) one_round=$2; shift 2 ;; # internal: one round, rows appended to this file
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
done

# One round in this process: its own kit run, torn down when the process ends.
if [[ -n $one_round ]]; then
  source "$repo/tests/integration/agent_cluster_lib.bash"
  source "$bench_dir/upgrade-load.sh"
  KIT_QUIET=1
  upgrade_cluster_up
  serial=$UPGRADE_SERIAL
  upgrade_window baseline true # the same load, nothing replaced: this machine's own noise
  upgrade_window same-layout replace_both "$SHUTTLE_BPF_DIR/shuttle_variant.bpf.o" $((serial + 1)) 1
  for n in n1 n2; do kit_stop "${SHUTTLED_PID[$n]}"; done
  upgrade_window new-layout replace_both "$SHUTTLE_BPF_DIR/shuttle_layout2.bpf.o" $((serial + 2)) 2
  for w in baseline same-layout new-layout; do
    ms=$(jq -s -r 'map(.ms | round) | join("/") | if . == "" then "-" else . end' \
      "$(kit_run_dir)/window-$w/replace.out" 2>/dev/null || echo "?")
    upgrade_results "$w" | sed "s|^|$w $ms |" >>"$one_round"
  done
  exit 0
fi

[[ $(id -u) == 0 ]] || { echo "needs root" >&2; exit 1; }
[[ -x $SHUTTLE_BIN_DIR/test-other-build ]] || { echo "build test-other-build first" >&2; exit 1; }
mkdir -p "$out"
rows=$out/rows
: >"$rows"
for ((r = 1; r <= rounds; r++)); do
  echo "round $r of $rounds" >&2
  before=$(wc -l <"$rows")
  bash "$0" --one-round "$rows" || echo "round $r failed" >&2
  sed -i "$((before + 1)),\$s/^/$r /" "$rows"
done
{
  echo "| round | replacement | path | ensure ms (n1/n2) | lost pings | longest ping gap | longest stream gap | lowest 0.1 s of stream | TCP ping-pong max | TCP resets | iperf3 / sockperf exit |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  while read -r round window ms path iperf_rc sock_rc lost sent ping_gap stream_gap low sock_max resets; do
    echo "| $round | $window | $path | $ms | $lost of $sent | $ping_gap ms | $stream_gap ms | $low % of median | $sock_max us | $resets | $iperf_rc / $sock_rc |"
  done <"$rows"
} | tee "$out/results.md"
echo "results in $out" >&2
