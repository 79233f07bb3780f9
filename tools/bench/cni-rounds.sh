#!/usr/bin/env bash
# CNI ADD/DEL latency and pods per second of shuttle next to Debian's bridge plugin with
# host-local, in interleaved rounds on the cluster kit (one node per plugin). Per round and
# plugin: N sequential ADDs then N DELs, each call timed inside the node from exec to exit;
# then P parallel ADDs and DELs (wall time). Writes
#   <out>/cni.csv          round,setup,metric,value,unit (per-round figures, for report.sh)
#   <out>/cni_samples.csv  round,setup,command,index,us (every call)
#
#   sudo tools/bench/cni-rounds.sh [--rounds 5] [--pods 100] [--parallel 32] [--at 250]
#                                  [--setups shuttle,bridge[,shuttle-tc]] --out DIR
#
# shuttle attaches its programs with attach "auto" (tc; TCX only for pods with an egress
# rate), shuttle-tc with attach "tc" (clsact + cls_bpf).
#
# --at K (0 = off) adds K+20 sequential ADDs and reports the p50 of ADDs K+1..K+20 (K pods
# already on the node) next to the p50 of ADDs 1..20. Not part of ctest.
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/../.." && pwd)
export SHUTTLE_BIN_DIR=${SHUTTLE_BIN_DIR:-$repo/build/bin}

rounds=5 pods=100 parallel=32 at=250 setups=shuttle,bridge out=
while (($#)); do
  case $1 in
  --rounds) rounds=$2; shift 2 ;;
  --pods) pods=$2; shift 2 ;;
  --parallel) parallel=$2; shift 2 ;;
  --at) at=$2; shift 2 ;;
  --setups) setups=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  *) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[[ -n $out ]] || { echo "cni-rounds: --out DIR is required" >&2; exit 2; }
IFS=, read -ra plugins <<<"$setups"
sequential=$pods
((at == 0)) || ((sequential = at + 20 > pods ? at + 20 : pods))
((parallel <= sequential)) || { echo "cni-rounds: --parallel must not exceed the pods created" >&2; exit 2; }

KIT_QUIET=1
source "$repo/tools/cluster/kit.sh"
source "$bench_dir/gate.sh"
kit_init
mkdir -p "$out"
echo "round,setup,metric,value,unit" >"$out/cni.csv"
echo "round,setup,command,index,us" >"$out/cni_samples.csv"

declare -A node_of=() conf_of=()
# Each plugin on its own node, so neither sees the other's interfaces or IPAM state.
prepare_plugin() {
  local plugin=$1 node conf
  case $plugin in
  shuttle | shuttle-tc) # attach "auto" or "tc" (cls_bpf)
    [[ -x $SHUTTLE_BIN_DIR/shuttle ]] || kit_die "cni-rounds: no $SHUTTLE_BIN_DIR/shuttle (build first)"
    node=cs${plugin#shuttle}
    node=${node//-/}
    conf='{"cniVersion":"1.0.0","name":"bench-shuttle","type":"shuttle","attach":"'$([[ $plugin == shuttle ]] && echo auto || echo tc)'",
           "ipam":{"type":"host-local","ranges":[[{"subnet":"10.89.0.0/16"}]]}}' ;;
  bridge)
    node=cb
    conf='{"cniVersion":"1.0.0","name":"bench-bridge","type":"bridge","bridge":"cni0","isGateway":true,
           "ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.0.0/16"}]]}}' ;;
  *) kit_die "cni-rounds: unknown setup $plugin (shuttle, bridge)" ;;
  esac
  kit_node_add "$node"
  conf_of[$plugin]=$(kit_node_conf_dir "$node")/10-$plugin.conf
  jq . <<<"$conf" >"${conf_of[$plugin]}"
  node_of[$plugin]=$node
  local i
  for ((i = 1; i <= sequential; i++)); do kit_pod_add "$plugin-$i"; done
}

# Runs inside the node: "<command> <index> <microseconds>" per call, then
# "PAR_ADD <wall us>" and "PAR_DEL <wall us>" for the parallel batch.
loop_script=$(kit_run_dir)/cni-loop.sh
cat >"$loop_script" <<'LOOP'
set -euo pipefail
plugin=$1 type=$2 conf=$3 netns_prefix=$4 n=$5 p=$6 round=$7
export CNI_PATH=/opt/cni/bin CNI_IFNAME=eth0
call() { # command index
  CNI_COMMAND=$1 CNI_CONTAINERID=bench-$plugin-$2 CNI_NETNS=$netns_prefix$2 \
    "/opt/cni/bin/$type" <"$conf" >/dev/null 2>"/run/cni-$plugin-$1-$2.err" ||
    { echo "$plugin $1 of pod $2 failed (round $round): $(cat "/run/cni-$plugin-$1-$2.err")" >&2; exit 1; }
}
for command in ADD DEL; do
  for ((i = 1; i <= n; i++)); do
    t0=$EPOCHREALTIME
    call "$command" "$i"
    t1=$EPOCHREALTIME
    echo "$command $i $((${t1/./} - ${t0/./}))"
  done
done
for command in ADD DEL; do
  t0=$EPOCHREALTIME
  pids=()
  for ((i = 1; i <= p; i++)); do call "$command" "$i" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid"; done
  t1=$EPOCHREALTIME
  echo "PAR_$command $((${t1/./} - ${t0/./}))"
done
LOOP

# Per-round figures from one round's samples of one plugin.
summarise() { # round plugin samples-file
  local round=$1 plugin=$2 file=$3
  percentile() { # command p [from to]
    awk -v c="$1" -v a="${3:-1}" -v b="${4:-1000000000}" '$1 == c && $2 >= a && $2 <= b {print $3}' "$file" |
      sort -n | awk -v p="$2" '{v[NR] = $1} END {if (!NR) exit 1; i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; printf "%.3f\n", v[i] / 1000}'
  }
  emit() { echo "$round,$plugin,$1,$2,$3" >>"$out/cni.csv"; }
  emit cni_add_p50_ms "$(percentile ADD 50)" ms
  emit cni_add_p99_ms "$(percentile ADD 99)" ms
  emit cni_del_p50_ms "$(percentile DEL 50)" ms
  emit cni_del_p99_ms "$(percentile DEL 99)" ms
  local seq=$((pods < 100 ? pods : 100))
  emit "cni_seq${seq}_pods_per_s" "$(awk -v k="$seq" '$1 == "ADD" && $2 <= k {s += $3} END {printf "%.1f", k * 1e6 / s}' "$file")" pods/s
  emit "cni_par${parallel}_pods_per_s" "$(awk -v k="$parallel" '$1 == "PAR_ADD" {printf "%.1f", k * 1e6 / $2}' "$file")" pods/s
  if ((at > 0)); then
    local at1 atk
    at1=$(percentile ADD 50 1 20)
    atk=$(percentile ADD 50 $((at + 1)) $((at + 20)))
    emit cni_add_p50_at1_ms "$at1" ms
    emit "cni_add_p50_at${at}_ms" "$atk" ms
    emit "cni_add_at${at}_vs_at1" "$(awk -v a="$atk" -v b="$at1" 'BEGIN {printf "%.3f", a / b}')" ratio
  fi
}

for plugin in "${plugins[@]}"; do prepare_plugin "$plugin"; done
bench_gate_measure cni
echo "cni: run $(kit_run_id), $rounds rounds, $sequential sequential + $parallel parallel pods per plugin: ${plugins[*]}" >&2
for ((round = 1; round <= rounds; round++)); do
  n=${#plugins[@]}
  for ((k = 0; k < n; k++)); do
    plugin=${plugins[(k + round - 1) % n]}
    samples=$(kit_run_dir)/samples-$round-$plugin
    kit_node_exec "${node_of[$plugin]}" bash "$loop_script" "$plugin" \
      "$(jq -r .type "${conf_of[$plugin]}")" "/etc/cni/net.d/10-$plugin.conf" \
      "/run/netns/$(kit_pod_netns "$plugin-")" "$sequential" "$parallel" "$round" >"$samples"
    awk -v r="$round" -v s="$plugin" '$1 == "ADD" || $1 == "DEL" {print r "," s "," $1 "," $2 "," $3}' \
      "$samples" >>"$out/cni_samples.csv"
    summarise "$round" "$plugin" "$samples"
    printf 'cni: round %d %-8s ADD p50 %s ms, DEL p50 %s ms\n' "$round" "$plugin" \
      "$(awk -F, -v r="$round" -v s="$plugin" '$1 == r && $2 == s && $3 == "cni_add_p50_ms" {print $4}' "$out/cni.csv")" \
      "$(awk -F, -v r="$round" -v s="$plugin" '$1 == r && $2 == s && $3 == "cni_del_p50_ms" {print $4}' "$out/cni.csv")" >&2
  done
done
bench_gate_measured cni
