#!/usr/bin/env bash
# Every benchmark scenario that exists today, in one run, into one results folder:
#
#   sudo tools/bench/suite.sh [--quick] [--rounds N] [--scenarios datapath,cni,bpf,routes]
#                             [--setups S1,S2,...] [--out DIR]
#
#   datapath  same node: limit, bridge, shuttle; cross node: underlay, flannel-style,
#             shuttle-x (shuttled --static-nodes on two nodes, direct overlay) and
#             shuttle-x-dev (the same with --overlay device): TCP Gbit/s, TCP round trip,
#             64-byte UDP packets/s, TCP connections/s (bench.sh, interleaved rounds);
#             IPv6 rows beside them (<setup>-v6: the same setups built dual-stack, measured
#             over IPv6: limit, bridge, shuttle, underlay, flannel, shuttle-x; --quick too)
#   cni       ADD/DEL latency, pods/s sequential and parallel, ADD latency with 250 pods on
#             the node: shuttle (TCX), shuttle (tc), bridge + host-local (cni-rounds.sh)
#   bpf       from_pod's ns/packet per path at 10 and 10,000 endpoints (BPF_PROG_TEST_RUN,
#             1,000,000 repeats; needs the shuttle_bpf_tests build target; not in --quick),
#             the overlay paths' (encap, decap, to_overlay) and the direct overlay's (encap,
#             decap, not VXLAN on the underlay) at 10 and 5,000 routes
#             and from_pod's IPv6 paths (local redirect, NS -> NA) at 10 and 10,000 endpoints
#   routes    shuttled (etcd mode, one node): seconds until the routes map holds 1,000 leases
#             written in txns of 125 (from the last commit), and until it is empty again after
#             their deletion (routes-sync.sh)
#   every scenario not built yet is listed in the report with the reason.
#   --setups: the datapath scenario measures only these of its setups (e.g. the cross-node
#   ones: underlay,flannel,shuttle-x,shuttle-x-dev,underlay-v6,flannel-v6,shuttle-x-v6).
#
# Writes DIR (default build/bench/<UTC time>): report.md, figures.csv (every per-round figure:
# scenario,round,setup,metric,value,unit), cni_samples.csv (every CNI call), one folder per
# scenario with its raw output, and plots/*.png (gnuplot). Every figure is min / median / max
# over the rounds; ratios are medians of ratios taken within a round. --quick: fewer and
# shorter rounds (the demo's); ctest runs it (tests/cluster/bench_quick.sh) as a smoke run:
# exit status 0 and every row of the report measured.
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/../.." && pwd)
export SHUTTLE_BIN_DIR=${SHUTTLE_BIN_DIR:-$repo/build/bin}
[[ $(id -u) == 0 ]] || { echo "suite: run as root (namespaces)" >&2; exit 1; }

quick= rounds= scenarios=datapath,cni,bpf,routes out=$repo/build/bench/$(date -u +%Y%m%dT%H%M%SZ) wait_for=
only_setups=
while (($#)); do
  case $1 in
  --quick) quick=1; shift ;;
  --rounds) rounds=$2; shift 2 ;;
  --scenarios) scenarios=$2; shift 2 ;;
  --setups) only_setups=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --wait-for) wait_for=$2; shift 2 ;;
  *) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
if [[ -n $quick ]]; then
  # The demo's run: the same summary from 1 round of 1 s measurements (iperf3 takes whole
  # seconds; loadgen's round trip and UDP rate 0.5 s, which pays for the cross-node IPv6
  # rows), no warm-up runs; the scenarios build their setups at the same time (gate.sh).
  # Round trip of every row by loadgen's ping-pong: sockperf 3.7 sleeps 2 s before each run
  # (14 s over the IPv4 rows).
  rounds=${rounds:-1} duration=1 loadgen_duration=0.5 metrics=tcp_stream,tcp_rr,udp_rate warmup=0 rr_tool=loadgen
  cni_args=(--pods 32 --parallel 32 --at 0 --setups shuttle,bridge)
else
  rounds=${rounds:-5} duration=5 loadgen_duration=5 metrics=tcp_stream,tcp_rr,udp_rate,tcp_conn warmup=1 rr_tool=sockperf
  cni_args=(--pods 100 --parallel 32 --at 250 --setups shuttle,shuttle-tc,bridge)
fi
mkdir -p "$out/plots"
figures=$out/figures.csv
echo "scenario,round,setup,metric,value,unit" >"$figures"
declare -a not_available=() skipped=()
wanted() { [[ ,$scenarios, == *",$1,"* ]]; }
say() { echo "suite: $*" >&2; }
unavailable() { not_available+=("$1"); say "not available yet: $1"; }
skip() { skipped+=("$1"); say "skipped: $1"; }

have_shuttle= have_shuttled=
[[ -x $SHUTTLE_BIN_DIR/shuttle ]] && have_shuttle=1
[[ -n $have_shuttle && -x $SHUTTLE_BIN_DIR/shuttled ]] && have_shuttled=1

bench_first_metric() { # metrics list -> the first figure name it prints
  case ${1%%,*} in tcp_stream) echo tcp_gbps ;; tcp_rr) echo rr_avg_us ;; udp_rate) echo udp_pps ;; tcp_conn) echo tcp_cps ;; esac
}

# bench.sh's lines -> one progress line per setup built and per round and setup measured
# (a read loop: mawk buffers its input from a pipe).
datapath_progress() { # first-metric
  local line word round setup metric value unit
  while IFS= read -r line; do
    case $line in
    "bench: setting up"*) echo "suite: datapath: ${line#bench: }" ;;
    "bench: round "*)
      read -r word word round setup metric value unit <<<"$line"
      [[ $metric != "$1" ]] || printf 'suite: datapath: round %s %-8s %s %.3g %s\n' "$round" "$setup" "$metric" "$value" "$unit"
      ;;
    esac
  done
}

# ---- how the scenarios run -------------------------------------------------------------
# Each scenario below runs in a subshell. The full run waits for each in turn, one after
# the other. The quick run (the demo's) starts them all at once: they build their setups
# at the same time, then gate.sh lets them measure one at a time in this file's order and
# tear down only once all have measured; each writes its own figures, merged in that order.
source "$bench_dir/gate.sh"
declare -A scenario_pid=()
declare -a scenario_order=() time_lines=()
suite_t0=$EPOCHREALTIME
if [[ -n $quick ]]; then
  export BENCH_GATE_DIR=$out/.gate BENCH_GATE_OWNER=$$
  rm -rf "$BENCH_GATE_DIR"
  mkdir -p "$BENCH_GATE_DIR"
  # Stopped (the demo failed): the scenarios stop at their next gate and tear down.
  trap 'touch "$BENCH_GATE_DIR/abort"; wait; exit 143' TERM INT
elif [[ -n $wait_for ]]; then
  echo "suite: --wait-for needs --quick" >&2
  exit 2
fi
# In the scenario's subshell: where its figures go; at its end, its CPU seconds (`times`).
scenario_begin() { # name
  [[ -z $quick ]] || figures=$out/.figures-$1.csv
  # shellcheck disable=SC2064 # expanded now: the file of this scenario
  trap "times >'$out/.cpu-$1'" EXIT
}
cpu_of() { # times-file -> "user X s, system Y s" (self and children summed)
  tr 'ms' '  ' <"$1" | awk '{u += $1 * 60 + $2; s += $3 * 60 + $4} END {printf "user %.1f s, system %.1f s", u, s}'
}
scenario_started() { # name pid
  if [[ -z $quick ]]; then
    wait "$2" || exit 1
    return 0
  fi
  scenario_pid[$1]=$2
  scenario_order+=("$1")
}
since() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN {printf "%.1f", b - a}'; }
# Until the gate flag exists; 1 when the scenario ended first (it failed: the others stop).
gate_until() { # flag scenario
  until [[ -e $BENCH_GATE_DIR/$1 ]]; do
    if ! kill -0 "${scenario_pid[$2]}" 2>/dev/null; then
      [[ -e $BENCH_GATE_DIR/$1 ]] || return 1
    fi
    bench_gate_nap
  done
}
gate_abort() { # scenario
  say "$1 stopped before its turn ended: stopping the others"
  touch "$BENCH_GATE_DIR/abort"
  wait
  exit 1
}
scenarios_gate() {
  [[ -n $quick && ${#scenario_order[@]} -gt 0 ]] || return 0
  local name t status=0
  for name in "${scenario_order[@]}"; do gate_until "ready-$name" "$name" || gate_abort "$name"; done
  for name in "${scenario_order[@]}"; do
    time_lines+=("$name: setups built after $(($(stat -c %Y "$BENCH_GATE_DIR/ready-$name") - ${suite_t0%.*})) s")
  done
  time_lines+=("setups, built at the same time: $(since "$suite_t0") s")
  if [[ -n $wait_for ]]; then
    say "setups ready; waiting for $wait_for"
    until [[ -e $wait_for ]]; do bench_gate_nap; done
  fi
  for name in "${scenario_order[@]}"; do
    t=$EPOCHREALTIME
    touch "$BENCH_GATE_DIR/go-$name"
    gate_until "done-$name" "$name" || gate_abort "$name"
    time_lines+=("$name, measuring alone: $(since "$t") s")
  done
  t=$EPOCHREALTIME
  touch "$BENCH_GATE_DIR/teardown"
  for name in "${scenario_order[@]}"; do wait "${scenario_pid[$name]}" || status=1; done
  time_lines+=("teardown, all at the same time: $(since "$t") s")
  ((status == 0)) || { say "a scenario failed in its teardown (logs in $out)"; exit 1; }
  for name in "${scenario_order[@]}"; do
    [[ ! -e $out/.figures-$name.csv ]] || cat "$out/.figures-$name.csv" >>"$figures"
    rm -f "$out/.figures-$name.csv"
  done
  rm -rf "$BENCH_GATE_DIR"
}

# ---- datapath: same node and cross node, interleaved in one bench.sh run ---------------
if ! wanted datapath; then
  skip "datapath: not in --scenarios"
else
  setups=limit,bridge
  [[ -z $have_shuttle ]] || setups+=,shuttle
  setups+=,underlay,flannel
  [[ -z $have_shuttled ]] || setups+=,shuttle-x,shuttle-x-dev
  # IPv6 rows of the same setups (bench.sh builds every setup dual-stack for them), --quick
  # too (issue 12: its IPv6 rows, same node and cross node, in CI's quick run).
  setups+=,limit-v6,bridge-v6
  [[ -z $have_shuttle ]] || setups+=,shuttle-v6
  setups+=,underlay-v6,flannel-v6
  [[ -z $have_shuttled ]] || setups+=,shuttle-x-v6
  if [[ -n $only_setups ]]; then
    kept=$(tr , '\n' <<<"$setups" | grep -Fxf <(tr , '\n' <<<"$only_setups") | paste -sd, -) ||
      { echo "suite: --setups $only_setups: none of them is one of $setups" >&2; exit 2; }
    skip "datapath: setups other than $kept (--setups)"
    setups=$kept
  fi
  [[ -n $have_shuttle ]] || unavailable "shuttle same node: no $SHUTTLE_BIN_DIR/shuttle (build first)"
  [[ -n $have_shuttled ]] || unavailable "shuttle cross node: no $SHUTTLE_BIN_DIR/shuttle and shuttled (build first)"
  (
  scenario_begin datapath
  say "datapath: $rounds rounds x ${duration}s (loadgen ${loadgen_duration}s), setups $setups"
  # Progress: one line per setup being built and per round and setup measured.
  first_metric=$(bench_first_metric "$metrics")
  if ! bash "$bench_dir/bench.sh" --rounds "$rounds" --duration "$duration" \
    --loadgen-duration "$loadgen_duration" --setups "$setups" \
    --metrics "$metrics" --warmup "$warmup" --rr-tool "$rr_tool" --out "$out/datapath" 2>&1 | tee "$out/datapath.log" |
    datapath_progress "$first_metric" >&2; then
    tail -n 20 "$out/datapath.log" >&2
    say "datapath scenario failed (log: $out/datapath.log)"
    exit 1
  fi
  awk -F, 'NR > 1 {print "datapath," $0}' "$out/datapath/results.csv" >>"$figures"
  ) &
  scenario_started datapath $!
fi

# ---- cni ------------------------------------------------------------------------------
if ! wanted cni; then
  skip "cni: not in --scenarios"
else
  if [[ -z $have_shuttle ]]; then
    cni_args+=(--setups bridge)
  fi
  (
  scenario_begin cni
  say "cni: $rounds rounds, ${cni_args[*]}"
  if ! bash "$bench_dir/cni-rounds.sh" --rounds "$rounds" "${cni_args[@]}" --out "$out/cni" 2>&1 |
    tee "$out/cni.log" | sed -u -n 's/^cni: round/suite: cni: round/p' >&2; then
    tail -n 20 "$out/cni.log" >&2
    say "cni scenario failed (log: $out/cni.log)"
    exit 1
  fi
  awk -F, 'NR > 1 {print "cni," $0}' "$out/cni/cni.csv" >>"$figures"
  cp "$out/cni/cni_samples.csv" "$out/cni_samples.csv"
  ) &
  scenario_started cni $!
fi

# ---- bpf ns/packet ----------------------------------------------------------------------
# The overlay paths' figures (encap, decap, to_overlay at 10 and 5,000 routes) cost ~6 s a
# round and are in --quick too; from_pod's per-path figures at 10 and 10,000 endpoints not.
bpf_round() { # round test-name-prefix out-file
  "$bpf_tests" "$2*" >"$3" 2>&1 || { cat "$3" >&2; say "bpf scenario failed ($2)"; exit 1; }
}
if ! wanted bpf; then
  skip "bpf: not in --scenarios"
else
  bpf_tests=$SHUTTLE_BIN_DIR/shuttle_bpf_tests
  if [[ ! -x $bpf_tests ]]; then
    unavailable "BPF ns/packet: build the test binary first (cmake --build build --target shuttle_bpf_tests)"
  else
    mkdir -p "$out/bpf"
    [[ -z $quick ]] || skip "BPF ns/packet of from_pod's paths at 10 and 10,000 endpoints: left out of --quick"
    (
    scenario_begin bpf
    bench_gate_measure bpf
    for ((round = 1; round <= rounds; round++)); do
      say "bpf: round $round"
      # Catch2 splits test specs at commas: the name is matched by its start.
      if [[ -z $quick ]]; then
        bpf_round "$round" "ns per packet for each path at 10 and" "$out/bpf/round-$round.txt"
        grep -q '^| .* | on |' "$out/bpf/round-$round.txt" ||
          { cat "$out/bpf/round-$round.txt" >&2; say "bpf scenario printed no figures"; exit 1; }
        # "| path | endpoints | Services check | ns/packet | ns incl. restore |" rows
        awk -F' *[|] *' -v r="$round" '$3 ~ /^[0-9]+$/ && $4 ~ /^(on|off)$/ {
            path = $2; gsub(/[^A-Za-z0-9]+/, "_", path)
            printf "bpf,%d,shuttle,bpf_ns_%s_svc_%s_%dep,%s,ns\n", r, tolower(path), $4, $3, $5}' \
          "$out/bpf/round-$round.txt" >>"$figures"
      fi
      overlay_txt=$out/bpf/overlay-round-$round.txt
      bpf_round "$round" "ns per packet for the overlay paths at 10 and" "$overlay_txt"
      # "| path | routes | ns/packet | ns incl. restore |" rows, routes "5000 (route_slots)"
      awk -F' *[|] *' -v r="$round" '$3 ~ /^[0-9]+ [(][a-z_]+[)]$/ && $4 ~ /^[0-9.]+$/ {
          path = $2; sub(/ [(].*/, "", path); gsub(/[^A-Za-z0-9]+/, "_", path); sub(/_$/, "", path)
          split($3, routes, /[ ()]+/)
          printf "bpf_overlay,%d,shuttle,bpf_ns_%s_%s_%sroutes,%s,ns\n", r, tolower(path), routes[2], routes[1], $4}' \
        "$overlay_txt" >>"$figures"
      grep -q "^bpf_overlay,$round,.*from_pod_encap_to_a_remote_pod_route_slots_5000routes," "$figures" ||
        { cat "$overlay_txt" >&2; say "bpf scenario printed no encap figure"; exit 1; }
      # issue 11's direct overlay: "| path | routes | ns/packet | ns incl. restore |", routes a number
      direct_txt=$out/bpf/direct-round-$round.txt
      bpf_round "$round" "ns per packet for the direct overlay paths at 10 and" "$direct_txt"
      awk -F' *[|] *' -v r="$round" '$3 ~ /^[0-9]+$/ && $4 ~ /^[0-9.]+$/ {
          path = $2; gsub(/[^A-Za-z0-9]+/, "_", path); sub(/^_/, "", path); sub(/_$/, "", path)
          printf "bpf_direct,%d,shuttle,bpf_ns_%s_%sroutes,%s,ns\n", r, tolower(path), $3, $4}' \
        "$direct_txt" >>"$figures"
      grep -q "^bpf_direct,$round,.*from_underlay_decap_into_a_local_pod_5000routes," "$figures" ||
        { cat "$direct_txt" >&2; say "bpf scenario printed no direct-overlay figure"; exit 1; }
      ipv6_txt=$out/bpf/ipv6-round-$round.txt
      bpf_round "$round" "ns per packet for the IPv6 paths at 10 and" "$ipv6_txt"
      # "| path | endpoints | ns/packet | ns incl. restore |" rows
      awk -F' *[|] *' -v r="$round" '$3 ~ /^[0-9]+$/ && $4 ~ /^-?[0-9]+$/ {
          path = $2; gsub(/[^A-Za-z0-9]+/, "_", path); sub(/_$/, "", path)
          printf "bpf_ipv6,%d,shuttle,bpf_ns_%s_%dep,%s,ns\n", r, tolower(path), $3, $4}' \
        "$ipv6_txt" >>"$figures"
      grep -q "^bpf_ipv6,$round,.*bpf_ns_ipv6_local_redirect_10000ep," "$figures" ||
        { cat "$ipv6_txt" >&2; say "bpf scenario printed no IPv6 redirect figure"; exit 1; }
    done
    bench_gate_measured bpf
    ) &
    scenario_started bpf $!
  fi
fi

# ---- routes: shuttled's routes map after 1,000 leases appear in etcd ----------------------
if ! wanted routes; then
  skip "routes: not in --scenarios"
elif [[ -z $have_shuttled ]] || ! command -v etcd >/dev/null; then
  unavailable "routes map in line after 1,000 leases: needs $SHUTTLE_BIN_DIR/shuttled, shuttlectl and etcd"
else
  (
  scenario_begin routes
  say "routes: $rounds rounds, 1,000 leases in txns of 125"
  if ! bash "$bench_dir/routes-sync.sh" --rounds "$rounds" --leases 1000 --batch 125 --out "$out/routes" 2>&1 |
    tee "$out/routes.log" | sed -u -n 's/^routes: round/suite: routes: round/p' >&2; then
    tail -n 20 "$out/routes.log" >&2
    say "routes scenario failed (log: $out/routes.log)"
    exit 1
  fi
  awk -F, 'NR > 1 {print "routes," $0}' "$out/routes/routes.csv" >>"$figures"
  ) &
  scenario_started routes $!
fi
scenarios_gate

# ---- report ---------------------------------------------------------------------------
scenario_csv() { # scenario [setups regex] -> CSV for report.sh
  echo "round,setup,metric,value,unit"
  awk -F, -v s="$1" -v re="${2:-.}" 'NR > 1 && $1 == s && $3 ~ re {print $2 "," $3 "," $4 "," $5 "," $6}' "$figures"
}
table() { # refs csv-file
  REPORT_REFS=$1 bash "$bench_dir/report.sh" "$2"
}
tmp=$out/.tmp
mkdir -p "$tmp"
scenario_csv datapath '^(limit|bridge|shuttle)$' >"$tmp/same.csv"
scenario_csv datapath '^(underlay|flannel|shuttle-x|shuttle-x-dev)$' >"$tmp/cross.csv"
scenario_csv datapath '^(limit|bridge|shuttle)-v6$' >"$tmp/same6.csv"
scenario_csv datapath '^(underlay|flannel|shuttle-x|shuttle-x-dev)-v6$' >"$tmp/cross6.csv"
scenario_csv cni >"$tmp/cni.csv"
scenario_csv bpf >"$tmp/bpf.csv"
scenario_csv bpf_overlay >"$tmp/bpf_overlay.csv"
scenario_csv bpf_direct >"$tmp/bpf_direct.csv"
scenario_csv bpf_ipv6 >"$tmp/bpf_ipv6.csv"
scenario_csv routes >"$tmp/routes.csv"

# The plots (gnuplot) are drawn while the report is written.
bash "$bench_dir/plots.sh" "$figures" "$out/cni_samples.csv" "$out/plots" >"$out/plots.log" 2>&1 &
plots_pid=$!

has_rows() { (($(wc -l <"$1") > 1)); }

# A compact table: one row per figure, one column per setup, "median (min–max)".
pivot() { # scenario metric-regex setup...
  local scenario=$1 re=$2
  shift 2
  awk -F, -v sc="$scenario" -v re="$re" -v order="$*" '
    function med(a, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) {t = a[j]; a[j] = a[j - 1]; a[j - 1] = t}
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(v) {return v >= 1000 ? sprintf("%d", v + 0.5) : sprintf("%.3g", v)}
    NR > 1 && $1 == sc && $4 ~ re {
      if (!(($4) in unit)) {metrics[++nm] = $4; unit[$4] = $6}
      k = $4 SUBSEP $3; vals[k, ++cnt[k]] = $5 + 0; seen[$3] = 1
    }
    END {
      ns = split(order, setups, " "); head = "| figure |"; rule = "|---|"
      for (i = 1; i <= ns; i++) if (setups[i] in seen) {cols[++nc] = setups[i]; head = head " " setups[i] " |"; rule = rule "---:|"}
      if (!nm) exit
      print head; print rule
      for (i = 1; i <= nm; i++) {
        line = "| " metrics[i] " (" unit[metrics[i]] ") |"
        for (c = 1; c <= nc; c++) {
          k = metrics[i] SUBSEP cols[c]; n = cnt[k]
          if (!n) {line = line " - |"; continue}
          delete a; for (j = 1; j <= n; j++) a[j] = vals[k, j]
          m = med(a, n); line = line " " fmt(m) " (" fmt(a[1]) "–" fmt(a[n]) ") |"
        }
        print line
      }
    }' "$figures"
}

# CPU seconds of this shell and the children it waited for (`times`: self, then children).
times >"$tmp/times"
cpu=$(cpu_of "$tmp/times")
for file in "$out"/.cpu-*; do
  [[ -e $file ]] || continue
  time_lines+=("CPU of ${file##*/.cpu-} (setups, measuring, teardown): $(cpu_of "$file")")
  rm -f "$file"
done
{
  echo "# shuttle benchmark $(date -u +%Y-%m-%dT%H:%MZ)${quick:+ (quick)}"
  echo
  echo "Kernel $(uname -r), $(nproc) CPUs; $rounds interleaved rounds per scenario (the order of"
  echo "setups rotates every round); every figure is min / median / max over the rounds, ratios"
  echo "are the median of ratios taken within each round. Datapath: client and server pinned to"
  if [[ $loadgen_duration == "$duration" ]]; then
    echo "one CPU, ${duration} s per measurement, kube-proxy-style rules (2,000 services) in every node."
  else
    echo "one CPU, ${duration} s per TCP stream and ${loadgen_duration} s per round trip and UDP rate, kube-proxy-style"
    echo "rules (2,000 services) in every node."
  fi
  echo
  echo "## Summary: median (min–max) over $rounds rounds"
  echo
  echo "How long each measurement ran: datapath per figure and round: iperf3 -t $duration;"
  if [[ $rr_tool == sockperf ]]; then
    echo "sockperf -t $duration, of which it counts all but the first 0.4 s and the last ~0.05 s; loadgen $loadgen_duration s;"
  else
    echo "loadgen $loadgen_duration s; round trip of every row by loadgen's TCP ping-pong, not sockperf;"
  fi
  echo "CNI ${cni_args[*]} per plugin and round, routes 1,000 leases per round."
  if has_rows "$tmp/same.csv" || has_rows "$tmp/cross.csv"; then
    echo
    echo "Pod to pod; limit, bridge, shuttle on one node; underlay (node to node), flannel (flannel-style), shuttle-x (shuttle, direct overlay), shuttle-x-dev (shuttle, --overlay device) across two nodes."
    echo
    pivot datapath '^(tcp_gbps|rr_avg_us|udp_pps|tcp_cps)$' limit bridge shuttle underlay flannel shuttle-x shuttle-x-dev
  fi
  if has_rows "$tmp/same6.csv" || has_rows "$tmp/cross6.csv"; then
    why_v6_rr=
    [[ $rr_tool == loadgen ]] || why_v6_rr=", as sockperf 3.7 has no IPv6"
    echo
    echo "The same over IPv6 (<setup>-v6: the same dual-stack pods, nodes and devices; round trip by loadgen's TCP ping-pong$why_v6_rr)."
    echo
    pivot datapath '^(tcp_gbps|rr_avg_us|udp_pps|tcp_cps)$' limit-v6 bridge-v6 shuttle-v6 underlay-v6 flannel-v6 shuttle-x-v6 shuttle-x-dev-v6
  fi
  if has_rows "$tmp/cni.csv"; then
    echo
    echo "CNI: ADD / DEL p50 per call, pods per second sequential and in parallel."
    echo
    pivot cni '_p50_ms$|pods_per_s$' shuttle shuttle-tc bridge
  fi
  if has_rows "$tmp/same.csv"; then
    echo
    echo "## Same node: pod to pod"
    echo
    table "limit bridge" "$tmp/same.csv"
    [[ ! -s $out/datapath/notes.txt ]] || { echo; sed 's/^/- /' "$out/datapath/notes.txt"; }
  fi
  if has_rows "$tmp/cross.csv"; then
    echo
    echo "## Cross node: pod to pod over the underlay"
    echo
    echo "underlay = two namespaces on the underlay bridge (node to node, the limit);"
    echo "flannel = bridge + host-local on cni0 and flannel.1 configured as flanneld's vxlan backend does;"
    echo "shuttle-x = shuttled --static-nodes on both nodes, direct overlay (from_pod encapsulates and"
    echo "redirects to eth0, from_underlay on eth0 decapsulates into the pod), pods by the plugin;"
    echo "shuttle-x-dev = the same with --overlay device (every packet through the VXLAN device shuttle.1)."
    echo
    table "underlay flannel" "$tmp/cross.csv"
  fi
  if has_rows "$tmp/same6.csv"; then
    echo
    echo "## Same node over IPv6: pod to pod"
    echo
    echo "The same-node setups built dual-stack, measured over IPv6 (limit-v6: fd00:99::1 -> ::2 on the"
    echo "veth pair; bridge-v6 and shuttle-v6: the pods' IPv6 addresses from host-local's second range set)."
    echo "Round trip: loadgen's TCP ping-pong (64-byte messages, one in flight, TCP_NODELAY), not sockperf."
    echo
    table "limit-v6 bridge-v6" "$tmp/same6.csv"
  fi
  if has_rows "$tmp/cross6.csv"; then
    echo
    echo "## Cross node over IPv6: pod to pod over the dual-stack underlay"
    echo
    echo "underlay-v6 = the underlay hosts' fd77:: addresses; flannel-v6 = flannel-v6.1 as flanneld's dual-stack"
    echo "vxlan backend makes it (local = the node's PublicIPv6, outer IPv6, MTU 1430); shuttle-x-v6 = the shuttle-x"
    echo "nodes with IPv6 halves in the static-nodes file (direct mode): from_pod sends non-GSO IPv6 (the round trip,"
    echo "64-byte UDP, ACKs) with its own outer IPv6/UDP/VXLAN headers and a computed outer UDP checksum, GSO bursts"
    echo "(bulk TCP data) through shuttle.1 (routes6, the device path); received the same way: from_underlay strips"
    echo "non-GSO frames into the pod, GSO ones go through shuttle.1 and from_overlay."
    echo
    table "underlay-v6 flannel-v6" "$tmp/cross6.csv"
  fi
  if has_rows "$tmp/cni.csv"; then
    echo
    echo "## CNI plugin: ADD / DEL"
    echo
    echo "Each call timed inside the node from exec to exit; per round: sequential ADDs then DELs,"
    echo "then a parallel batch. shuttle = attach auto (tc for pods without egress shaping), shuttle-tc = attach tc."
    echo
    table "bridge" "$tmp/cni.csv"
  fi
  if has_rows "$tmp/bpf.csv"; then
    echo
    echo "## BPF: from_pod ns/packet (BPF_PROG_TEST_RUN, 1,000,000 repeats, restore cost subtracted)"
    echo
    table "" "$tmp/bpf.csv"
  fi
  if has_rows "$tmp/bpf_overlay.csv"; then
    echo
    echo "## BPF: overlay paths ns/packet at 10 and 5,000 routes (BPF_PROG_TEST_RUN, restore cost subtracted)"
    echo
    echo "route_slots = the array the packet path reads for flannel's layout (the shipped one); hash = the"
    echo "routes hash the wider layouts use. encap = from_pod to a remote pod; decap = from_overlay into a pod."
    echo
    table "" "$tmp/bpf_overlay.csv"
  fi
  if has_rows "$tmp/bpf_direct.csv"; then
    echo
    echo "## BPF: direct overlay paths ns/packet at 10 and 5,000 routes (BPF_PROG_TEST_RUN, restore cost subtracted)"
    echo
    echo "encap = from_pod pushing the VXLAN headers itself; decap = from_underlay stripping them into a pod;"
    echo "not VXLAN = what every other packet on the underlay interface pays."
    echo
    table "" "$tmp/bpf_direct.csv"
  fi
  if has_rows "$tmp/bpf_ipv6.csv"; then
    echo
    echo "## BPF: from_pod's IPv6 paths ns/packet at 10 and 10,000 endpoints (BPF_PROG_TEST_RUN, restore cost subtracted)"
    echo
    echo "hash entry = a pod address outside the first 65,536 of the node's IPv6 subnet (endpoints6_hash)."
    echo
    table "" "$tmp/bpf_ipv6.csv"
  fi
  if has_rows "$tmp/routes.csv"; then
    echo
    echo "## shuttled: routes map in line with etcd"
    echo
    echo "One node running shuttled against the kit's etcd; per round 1,000 leases (flannel's value format,"
    echo "distinct PublicIPs and VtepMACs) written through the JSON gateway in 8 txns of 125 puts,"
    echo "then deleted the same way. in_line = from the last txn's commit until \`shuttlectl --json routes\`"
    echo "in the node lists all 1,000 (polled; one poll takes ~20 ms, the resolution); removed = from the"
    echo "last delete txn until the map is empty."
    echo
    table "" "$tmp/routes.csv"
  fi
  echo
  echo "## Targets"
  echo
  bash "$bench_dir/targets.sh" "$figures"
  echo
  echo "## Not measured"
  echo
  for line in "${not_available[@]}"; do echo "- not available yet: $line"; done
  for line in "${skipped[@]}"; do echo "- skipped: $line"; done
  echo
  echo "## Time"
  echo
  for line in "${time_lines[@]}"; do echo "- $line"; done
  echo "- the whole suite until this report: $(since "$suite_t0") s wall; CPU (user, system) of the suite and"
  echo "  everything it waited for: $cpu"
  echo
  echo "## Plots"
  echo
  wait "$plots_pid" || say "plots failed (log: $out/plots.log)"
  for png in "$out"/plots/*.png; do
    [[ -e $png ]] && echo "![$(basename "$png" .png)](plots/$(basename "$png"))"
  done
  echo
  echo "Raw figures: figures.csv (per round), cni_samples.csv (every CNI call); logs beside them."
} >"$out/report.md"
rm -rf "$tmp"
# On the terminal: the summary and the targets.
sed -n '/^## Summary/,/^## \(Same node\|Cross node\|CNI plugin\|BPF\|Targets\)/p' "$out/report.md" | sed '$d'
targets=$(sed -n '/^## Targets/,/^## Not measured/p' "$out/report.md" | sed '$d')
grep -v '| not measured' <<<"$targets"
echo "($(grep -c '| not measured' <<<"$targets" || true) more targets not measured yet: see the report)"
echo
sed -n '/^## Time/,/^## Plots/p' "$out/report.md" | sed '$d'
echo
echo "report: $out/report.md, plots: $out/plots/"
