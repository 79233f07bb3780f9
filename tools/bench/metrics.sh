# shellcheck shell=bash
# Benchmark metrics. Each `metric_<name> <setup>` runs one measurement between the
# setup's client and server pods, client and server pinned to $BENCH_CPU (cross-CPU runs
# measure vCPU wake-ups, not the datapath), and prints "<metric> <value> <unit>" lines.
# `server_<name> <setup>` starts the long-lived server once per setup and waits for it.

BENCH_IPERF_PORT=5201
BENCH_SOCKPERF_PORT=11111
BENCH_UDP_PORT=9000
BENCH_CONN_PORT=9001
BENCH_PP_PORT=9002

# IPv6 rows (<setup>-v6): the server's address has a colon. sockperf 3.7 cannot address IPv6,
# so their round trip is loadgen's TCP ping-pong (the same 64-byte exchange).
bench_is_v6() { [[ ${BENCH_SERVER_IP[$1]} == *:* ]]; }
# The round trip's tool for a row: loadgen's ping-pong for IPv6 rows, and for every row with
# `bench.sh --rr-tool loadgen` (the quick run's: sockperf 3.7 sleeps a fixed 2 s before each
# run, 2 s per row, and one tool for every row keeps the rows comparable).
bench_rr_by_loadgen() { [[ ${BENCH_RR_TOOL:-sockperf} == loadgen ]] || bench_is_v6 "$1"; }

bench_server_spawn() { # setup log-name command...
  local setup=$1 name=$2
  shift 2
  kit_pod_spawn "${BENCH_SERVER[$setup]}" "$BENCH_OUT/logs/$setup-$name.log" \
    taskset -c "$BENCH_CPU" "$@"
}

bench_client() { # setup command...
  local setup=$1
  shift
  kit_pod_exec "${BENCH_CLIENT[$setup]}" taskset -c "$BENCH_CPU" "$@"
}

# Wait until the server listens on the setup's address (servers start asynchronously; an
# IPv4 and an IPv6 row share a server pod and port). proto: t or u.
bench_wait_listen() {
  local setup=$1 proto=$2 port=$3 deadline=$((SECONDS + 10)) ip=${BENCH_SERVER_IP[$1]}
  [[ $ip != *:* ]] || ip="[$ip]"
  until kit_pod_exec "${BENCH_SERVER[$setup]}" ss -Hln"$proto" "sport = :$port" | grep -F "$ip:$port" >/dev/null; do
    ((SECONDS < deadline)) || kit_die "$setup: nothing listens on ${BENCH_SERVER_IP[$setup]}:$port"
    sleep 0.1
  done
}

server_tcp_stream() {
  bench_server_spawn "$1" iperf3 iperf3 -s -B "${BENCH_SERVER_IP[$1]}" -p "$BENCH_IPERF_PORT"
  bench_wait_listen "$1" t "$BENCH_IPERF_PORT"
}

# Single-stream TCP throughput (iperf3), Gbit/s at the receiver.
metric_tcp_stream() {
  local setup=$1 json
  json=$(bench_client "$setup" iperf3 -c "${BENCH_SERVER_IP[$setup]}" -p "$BENCH_IPERF_PORT" \
    -t "$BENCH_DURATION" -J) || { echo "tcp_stream: iperf3 failed for $setup" >&2; return 1; }
  echo "tcp_gbps $(jq -r '.end.sum_received.bits_per_second / 1e9' <<<"$json") Gbit/s"
}

server_tcp_rr() {
  if bench_rr_by_loadgen "$1"; then
    bench_server_spawn "$1" pp "$BENCH_LOADGEN" tcp-pp-server "${BENCH_SERVER_IP[$1]}" "$BENCH_PP_PORT"
    bench_wait_listen "$1" t "$BENCH_PP_PORT"
    return
  fi
  bench_server_spawn "$1" sockperf sockperf sr --tcp -i "${BENCH_SERVER_IP[$1]}" -p "$BENCH_SOCKPERF_PORT"
  bench_wait_listen "$1" t "$BENCH_SOCKPERF_PORT"
}

# TCP request/response round trip (sockperf ping-pong, 64-byte messages): avg and p99.
metric_tcp_rr() {
  local setup=$1 out avg p99
  if bench_rr_by_loadgen "$setup"; then
    bench_client "$setup" "$BENCH_LOADGEN" tcp-pp-client "${BENCH_SERVER_IP[$setup]}" "$BENCH_PP_PORT" \
      "$BENCH_LOADGEN_DURATION" 64
    return
  fi
  out=$(bench_client "$setup" sockperf pp --tcp --full-rtt -i "${BENCH_SERVER_IP[$setup]}" \
    -p "$BENCH_SOCKPERF_PORT" -m 64 -t "$BENCH_DURATION" 2>&1) ||
    { echo "tcp_rr: sockperf failed for $setup: $out" >&2; return 1; }
  avg=$(sed -n 's/.*Summary: Round trip is \([0-9.]*\) usec.*/\1/p' <<<"$out")
  p99=$(sed -n 's/.*percentile 99.000 = *\([0-9.]*\).*/\1/p' <<<"$out")
  [[ -n $avg && -n $p99 ]] || { echo "tcp_rr: cannot parse sockperf output for $setup" >&2; return 1; }
  echo "rr_avg_us $avg us"
  echo "rr_p99_us $p99 us"
}

server_udp_rate() {
  bench_server_spawn "$1" udp "$BENCH_LOADGEN" udp-server "${BENCH_SERVER_IP[$1]}" "$BENCH_UDP_PORT"
  bench_wait_listen "$1" u "$BENCH_UDP_PORT"
}

# 64-byte UDP packet rate from a windowed sender the receiver acknowledges (loadgen.cpp).
metric_udp_rate() {
  bench_client "$1" "$BENCH_LOADGEN" udp-client "${BENCH_SERVER_IP[$1]}" "$BENCH_UDP_PORT" \
    "$BENCH_LOADGEN_DURATION" 64 64
}

server_tcp_conn() {
  bench_server_spawn "$1" conn "$BENCH_LOADGEN" tcp-server "${BENCH_SERVER_IP[$1]}" "$BENCH_CONN_PORT"
  bench_wait_listen "$1" t "$BENCH_CONN_PORT"
}

# TCP connection rate (connect, one byte, close), through the node's kube-proxy rules.
metric_tcp_conn() {
  bench_client "$1" "$BENCH_LOADGEN" tcp-client "${BENCH_SERVER_IP[$1]}" "$BENCH_CONN_PORT" \
    "$BENCH_LOADGEN_DURATION"
}
