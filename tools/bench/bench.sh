#!/usr/bin/env bash
# Same-node pod <-> pod benchmark on the cluster kit: the limit (two namespaces on one
# veth pair), Debian's bridge plugin with host-local on a Kubernetes-like node
# (br_netfilter on, kube-proxy-style iptables rules for --kube-services ClusterIPs), and
# shuttle (when asked for); cross node: underlay, flannel (flannel-style), shuttle-x (shuttled
# --static-nodes on two nodes); measured in interleaved rounds in one run. Writes results.csv and results.md, prints the table.
#
#   sudo tools/bench/bench.sh [--rounds 5] [--duration 5] [--setups limit,bridge[,shuttle][,limit-v6,...]]
#                             [--metrics tcp_stream,tcp_rr,udp_rate,tcp_conn] [--cpu N]
#                             [--kube-services 2000] [--warmup 1|0] [--rr-tool sockperf|loadgen]
#                             [--loadgen-duration S] [--out DIR]
#
# --warmup 0 skips the unrecorded first run of each metric per setup (the demo's short run).
# --rr-tool: the round trip's tool for the IPv4 rows (IPv6 rows: loadgen always): sockperf
# (default) or loadgen's TCP ping-pong, the same 64-byte exchange without sockperf 3.7's
# fixed 2 s sleep before each run (the demo's short run).
# --loadgen-duration: seconds of loadgen's measurements (round trip by loadgen, UDP rate,
# connections/s; fractions allowed; default --duration); iperf3 and sockperf take --duration.
# <setup>-v6 measures <setup> over IPv6; with any of them every setup is built dual-stack.
#
# Not part of ctest: run it by hand on a quiet machine.
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/../.." && pwd)

BENCH_ROUNDS=5
BENCH_DURATION=5
BENCH_SETUPS=limit,bridge
BENCH_METRICS=tcp_stream,tcp_rr,udp_rate,tcp_conn
BENCH_CPU=$(($(nproc) - 1))
BENCH_KUBE_SERVICES=2000
BENCH_WARMUP=1
BENCH_RR_TOOL=sockperf
BENCH_LOADGEN_DURATION=
BENCH_OUT=$repo/build/bench/$(date -u +%Y%m%dT%H%M%SZ)
export SHUTTLE_BIN_DIR=${SHUTTLE_BIN_DIR:-$repo/build/bin}

usage() { sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case $1 in
  --rounds) BENCH_ROUNDS=$2; shift 2 ;;
  --duration) BENCH_DURATION=$2; shift 2 ;;
  --setups) BENCH_SETUPS=$2; shift 2 ;;
  --metrics) BENCH_METRICS=$2; shift 2 ;;
  --cpu) BENCH_CPU=$2; shift 2 ;;
  --kube-services) BENCH_KUBE_SERVICES=$2; shift 2 ;;
  --warmup) BENCH_WARMUP=$2; shift 2 ;;
  --rr-tool) BENCH_RR_TOOL=$2; shift 2 ;;
  --loadgen-duration) BENCH_LOADGEN_DURATION=$2; shift 2 ;;
  --out) BENCH_OUT=$2; shift 2 ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
done
[[ $BENCH_RR_TOOL == sockperf || $BENCH_RR_TOOL == loadgen ]] || { usage >&2; exit 2; }
BENCH_LOADGEN_DURATION=${BENCH_LOADGEN_DURATION:-$BENCH_DURATION}
IFS=, read -ra setups <<<"$BENCH_SETUPS"
IFS=, read -ra metrics <<<"$BENCH_METRICS"
for tool in iperf3 sockperf taskset jq iptables-restore; do
  command -v "$tool" >/dev/null || { echo "bench: missing $tool (tools/install-deps.sh)" >&2; exit 1; }
done

source "$repo/tools/cluster/kit.sh"
source "$bench_dir/setups.sh"
source "$bench_dir/metrics.sh"
source "$bench_dir/gate.sh"
for setup in "${setups[@]}"; do
  declare -F "setup_$setup" >/dev/null || kit_die "unknown setup $setup"
done
for metric in "${metrics[@]}"; do
  declare -F "metric_$metric" >/dev/null || kit_die "unknown metric $metric"
done

mkdir -p "$BENCH_OUT/logs"

# Our own load generators (loadgen.cpp), rebuilt when the source is newer.
BENCH_LOADGEN=$repo/build/bench/bin/shuttle-loadgen
if [[ ! -x $BENCH_LOADGEN || $bench_dir/loadgen.cpp -nt $BENCH_LOADGEN ]]; then
  mkdir -p "$(dirname "$BENCH_LOADGEN")"
  g++ -std=c++20 -O2 -Wall -Wextra -I "$repo/userspace" -o "$BENCH_LOADGEN" "$bench_dir/loadgen.cpp"
fi
csv=$BENCH_OUT/results.csv
echo "round,setup,metric,value,unit" >"$csv"
KIT_QUIET=1
kit_init
echo "bench: run $(kit_run_id), ${BENCH_ROUNDS} rounds x ${BENCH_DURATION} s, setups ${setups[*]}, CPU $BENCH_CPU, out $BENCH_OUT" >&2

# <setup>-v6 rows: every setup is built dual-stack (setups.sh).
[[ ,$BENCH_SETUPS, != *-v6,* ]] || BENCH_DUAL_STACK=1
for setup in "${setups[@]}"; do
  echo "bench: setting up $setup" >&2
  [[ -n ${BENCH_BUILT[$setup]:-} ]] || "setup_$setup"
  BENCH_BUILT[$setup]=1
  for metric in "${metrics[@]}"; do
    if declare -F "server_$metric" >/dev/null; then "server_$metric" "$setup"; fi
  done
  # Warm-up: one short unrecorded run of each metric.
  if ((BENCH_WARMUP)); then
    for metric in "${metrics[@]}"; do
      BENCH_DURATION=1 BENCH_LOADGEN_DURATION=1 "metric_$metric" "$setup" >/dev/null
    done
  fi
done

# Interleaved rounds; the order of setups rotates every round so none always goes first.
bench_gate_measure datapath
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
  n=${#setups[@]}
  for ((k = 0; k < n; k++)); do
    setup=${setups[(k + round - 1) % n]}
    for metric in "${metrics[@]}"; do
      while read -r name value unit; do
        echo "$round,$setup,$name,$value,$unit" >>"$csv"
        printf 'bench: round %d %-8s %-10s %s %s\n' "$round" "$setup" "$name" "$value" "$unit" >&2
      done < <("metric_$metric" "$setup")
    done
  done
done
bench_gate_measured datapath

bash "$bench_dir/report.sh" "$csv" | tee "$BENCH_OUT/results.md"
{
  echo
  echo "kernel $(uname -r), $(nproc) CPUs, client and server pinned to CPU $BENCH_CPU;"
  echo "${BENCH_DURATION} s per measurement (loadgen's: $BENCH_LOADGEN_DURATION s); kube-proxy-style services in the nodes: $BENCH_KUBE_SERVICES."
  [[ ! -s $BENCH_OUT/notes.txt ]] || sed 's/^/- /' "$BENCH_OUT/notes.txt"
} | tee -a "$BENCH_OUT/results.md"
echo "bench: results in $BENCH_OUT" >&2
