# shellcheck shell=bash
# Benchmark metrics. Each `metric_<name> <setup>` runs one measurement between the
# setup's client and server pods, client and server pinned to $BENCH_CPU (cross-CPU runs
# measure vCPU wake-ups, not the datapath), and prints "<metric> <value> <unit>" lines.
# `server_<name> <setup>` starts the long-lived server once per setup.

BENCH_IPERF_PORT=5201
BENCH_SOCKPERF_PORT=11111

server_tcp_stream() {
  local setup=$1
  kit_pod_spawn "${BENCH_SERVER[$setup]}" "$BENCH_OUT/logs/$setup-iperf3.log" \
    taskset -c "$BENCH_CPU" iperf3 -s -B "${BENCH_SERVER_IP[$setup]}" -p "$BENCH_IPERF_PORT"
}

# Single-stream TCP throughput (iperf3), Gbit/s at the receiver.
metric_tcp_stream() {
  local setup=$1 json gbps
  json=$(kit_pod_exec "${BENCH_CLIENT[$setup]}" taskset -c "$BENCH_CPU" \
    iperf3 -c "${BENCH_SERVER_IP[$setup]}" -p "$BENCH_IPERF_PORT" -t "$BENCH_DURATION" -J) ||
    { echo "tcp_stream: iperf3 failed for $setup" >&2; return 1; }
  gbps=$(jq -r '.end.sum_received.bits_per_second / 1e9' <<<"$json")
  echo "tcp_gbps $gbps Gbit/s"
}

server_tcp_rr() {
  local setup=$1
  kit_pod_spawn "${BENCH_SERVER[$setup]}" "$BENCH_OUT/logs/$setup-sockperf.log" \
    taskset -c "$BENCH_CPU" sockperf sr --tcp -i "${BENCH_SERVER_IP[$setup]}" -p "$BENCH_SOCKPERF_PORT"
}

# TCP request/response round trip (sockperf ping-pong, 64-byte messages): avg and p99.
metric_tcp_rr() {
  local setup=$1 out avg p99
  out=$(kit_pod_exec "${BENCH_CLIENT[$setup]}" taskset -c "$BENCH_CPU" \
    sockperf pp --tcp --full-rtt -i "${BENCH_SERVER_IP[$setup]}" -p "$BENCH_SOCKPERF_PORT" \
    -m 64 -t "$BENCH_DURATION" 2>&1) ||
    { echo "tcp_rr: sockperf failed for $setup: $out" >&2; return 1; }
  avg=$(sed -n 's/.*Summary: Round trip is \([0-9.]*\) usec.*/\1/p' <<<"$out")
  p99=$(sed -n 's/.*percentile 99.000 = *\([0-9.]*\).*/\1/p' <<<"$out")
  [[ -n $avg && -n $p99 ]] || { echo "tcp_rr: cannot parse sockperf output for $setup" >&2; return 1; }
  echo "rr_avg_us $avg us"
  echo "rr_p99_us $p99 us"
}

# Wait until the server listens (servers start asynchronously).
bench_wait_port() {
  local setup=$1 port=$2 deadline=$((SECONDS + 10))
  until [[ -n $(kit_pod_exec "${BENCH_SERVER[$setup]}" ss -Hltn "sport = :$port") ]]; do
    ((SECONDS < deadline)) || kit_die "$setup: nothing listens on ${BENCH_SERVER_IP[$setup]}:$port"
    sleep 0.1
  done
}
