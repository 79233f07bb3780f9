#!/usr/bin/env bash
# PNG plots (gnuplot) from suite.sh's raw figures:
#   <metric>.png         bars per setup: median, whiskers min..max over the rounds
#                        (tcp_gbps, rr_avg_us, udp_pps, tcp_cps when measured)
#   cni_add_latency.png  distribution (CDF) of every ADD call per plugin; cni_del_latency.png
# Usage: plots.sh figures.csv cni_samples.csv outdir
set -euo pipefail
figures=$1 samples=$2 outdir=$3
command -v gnuplot >/dev/null || { echo "plots: gnuplot missing (tools/install-deps.sh)" >&2; exit 1; }
mkdir -p "$outdir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

setup_order=(limit bridge shuttle underlay flannel shuttle-x)
label() {
  case $1 in
  limit) echo 'same node: limit' ;; bridge) echo 'same node: bridge' ;; shuttle) echo 'same node: shuttle' ;;
  underlay) echo 'cross: underlay' ;; flannel) echo 'cross: flannel-style' ;;
  shuttle-x) echo 'cross: shuttle' ;; *) echo "$1" ;;
  esac
}

# metric -> tab-separated rows "label min median max rounds" in setup order
bar_data() {
  local metric=$1 setup
  for setup in "${setup_order[@]}"; do
    awk -F, -v m="$metric" -v s="$setup" '$1 == "datapath" && $3 == s && $4 == m {print $5}' "$figures" |
      sort -g | awk -v l="$(label "$setup")" '{v[NR] = $1}
        END {if (!NR) exit; med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
             printf "%s\t%s\t%s\t%s\t%d\n", l, v[1], med, v[NR], NR}'
  done
}

bar_plot() { # metric title ylabel
  local metric=$1 title=$2 ylabel=$3 data=$work/$1.dat rounds
  bar_data "$metric" >"$data"
  [[ -s $data ]] || return 0
  rounds=$(awk -F'\t' '{print $5}' "$data" | sort -n | tail -n1)
  gnuplot <<EOF
set terminal pngcairo size 900,520 font "sans,10"
set output "$outdir/$metric.png"
set title "$title\n(bars: median, whiskers: min..max over $rounds rounds)"
set ylabel "$ylabel"
set style fill solid 0.6 border -1
set boxwidth 0.6
set yrange [0:*]
set grid ytics
set xtics noenhanced
set datafile separator "\t"
unset key
plot "$data" using 0:3:xtic(1) with boxes lc rgb "#4a7ab8", \
     "" using 0:3:2:4 with yerrorbars lc rgb "black" pt -1 lw 1.5, \
     "" using 0:4:(\$3 >= 1000 ? sprintf("%.0f", \$3) : sprintf("%.3g", \$3)) with labels offset 0,1 font "sans,9"
EOF
}

bar_plot tcp_gbps "Single-stream TCP throughput (iperf3)" "Gbit/s"
bar_plot rr_avg_us "TCP round trip, 64-byte ping-pong (sockperf), average" "microseconds (lower is better)"
bar_plot udp_pps "64-byte UDP packet rate" "packets/s"
bar_plot tcp_cps "TCP connection rate (kube-proxy rules loaded)" "connections/s"

# CNI: CDF of every call's latency per plugin.
cdf_plot() { # command file-stem
  local command=$1 stem=$2 plugin plots=() n
  for plugin in $(awk -F, 'NR > 1 {print $2}' "$samples" | awk '!seen[$0]++'); do
    awk -F, -v c="$command" -v p="$plugin" '$3 == c && $2 == p {print $5 / 1000}' "$samples" | sort -g |
      awk '{v[NR] = $1} END {for (i = 1; i <= NR; i++) print v[i], 100 * i / NR}' >"$work/$stem-$plugin.dat"
    n=$(wc -l <"$work/$stem-$plugin.dat")
    ((n > 0)) && plots+=("\"$work/$stem-$plugin.dat\" using 1:2 with steps lw 2 title \"$plugin ($n calls)\"")
  done
  ((${#plots[@]})) || return 0
  local joined
  joined=$(printf '%s, ' "${plots[@]}")
  gnuplot <<EOF
set terminal pngcairo size 900,520 font "sans,10"
set output "$outdir/$stem.png"
set title "CNI $command latency, every call of every round (exec to exit, inside the node)"
set xlabel "milliseconds (log scale)"
set ylabel "% of calls at or below"
set yrange [0:100]
set logscale x 10
set xrange [1:*]
set grid
set key bottom right noenhanced
plot ${joined%, }
EOF
}
[[ -s $samples ]] && cdf_plot ADD cni_add_latency
[[ -s $samples ]] && cdf_plot DEL cni_del_latency
ls "$outdir"
