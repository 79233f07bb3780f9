#!/usr/bin/env bash
# How fast shuttled brings its node's routes map in line with etcd: a kit node with etcd in
# the underlay and shuttled (etcd mode); per round, N leases in flannel's exact value format
# (distinct PublicIPs and VtepMACs, a 600 s etcd lease) are written through etcd's JSON
# gateway in txns of at most --batch puts (etcd allows 128 operations per txn); the clock
# starts when the last txn has committed and stops when `shuttlectl --json routes` in the
# node lists all N (each with its own PublicIP and VtepMAC: checked). Then the same for deleting them (the map empties). Writes
#   <out>/routes.csv  round,setup,metric,value,unit
#
#   sudo tools/bench/routes-sync.sh [--rounds 5] [--leases 1000] [--batch 125] --out DIR
#
# The poll (one shuttlectl run inside the node) takes ~20 ms: that is the resolution.
# Not part of ctest.
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/../.." && pwd)
export SHUTTLE_BIN_DIR=${SHUTTLE_BIN_DIR:-$repo/build/bin}

rounds=5 leases=1000 batch=125 out=
while (($#)); do
  case $1 in
  --rounds) rounds=$2; shift 2 ;;
  --leases) leases=$2; shift 2 ;;
  --batch) batch=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  *) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[[ -n $out ]] || { echo "routes-sync: --out DIR is required" >&2; exit 2; }
((batch >= 1 && batch <= 128)) || { echo "routes-sync: --batch must be 1..128 (etcd's txn limit)" >&2; exit 2; }
((leases <= 4000)) || { echo "routes-sync: at most 4,000 leases (the /12 network holds 4,096)" >&2; exit 2; }
for tool in "$SHUTTLE_BIN_DIR/shuttled" "$SHUTTLE_BIN_DIR/shuttlectl" etcd python3 jq curl; do
  command -v "$tool" >/dev/null || { echo "routes-sync: missing $tool" >&2; exit 1; }
done

KIT_QUIET=1
source "$repo/tools/cluster/kit.sh"
source "$bench_dir/gate.sh"
kit_init
mkdir -p "$out"
csv=$out/routes.csv
echo "round,setup,metric,value,unit" >"$csv"
prefix=/coreos.com/network
network=172.16.0.0/12 # 4,096 /24s: room for the node's own lease and the benchmark's

echo "routes: run $(kit_run_id), $rounds rounds, $leases leases in txns of $batch, out $out" >&2
kit_cluster_up 1
kit_etcd_start
kit_etcdctl put "$prefix/config" "{\"Network\":\"$network\",\"Backend\":{\"Type\":\"vxlan\"}}" >/dev/null
endpoint=$(kit_etcd_endpoint)
kit_node_spawn n1 "$out/shuttled.log" "$SHUTTLE_BIN_DIR/shuttled" --etcd-endpoints "$endpoint" --iface eth0
deadline=$((SECONDS + 30))
until kit_node_exec n1 curl -sf --max-time 2 http://127.0.0.1:9465/readyz >/dev/null 2>&1; do
  ((SECONDS < deadline)) || kit_die "routes-sync: shuttled not ready after 30 s: $(tail -5 "$out/shuttled.log")"
  sleep 0.2
done
own=$(kit_node_exec n1 sed -n 's/^FLANNEL_SUBNET=\(.*\)\.1\/24$/\1.0/p' /run/flannel/subnet.env)
[[ -n $own ]] || kit_die "routes-sync: no /24 in the node's subnet.env"

# The txn bodies: puts (one etcd lease shared by all) and deletes, --batch operations each.
bodies=$(kit_run_dir)/routes-sync
mkdir -p "$bodies"
make_bodies() { # etcd-lease-id
  python3 - "$1" "$leases" "$batch" "$own" "$prefix" "$bodies" <<'PY'
import base64, json, sys
lease, count, batch, own, prefix, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
b64 = lambda s: base64.b64encode(s.encode()).decode()
keys, values, i = [], [], 0
while len(keys) < count:
    subnet = f"172.{16 + (i + 1) // 256}.{(i + 1) % 256}.0"  # 172.16.0.0 stays unused, as flannel's SubnetMin does
    i += 1
    if subnet == own:
        continue
    n = len(keys)
    keys.append(f"{prefix}/subnets/{subnet}-24")
    mac = f"0e:20:00:00:{n >> 8:02x}:{n & 255:02x}"
    values.append(json.dumps({"PublicIP": f"198.18.{n // 250}.{n % 250 + 1}", "PublicIPv6": None,
                              "BackendType": "vxlan", "BackendData": {"VNI": 1, "VtepMAC": mac}},
                             separators=(",", ":")))
for b in range(0, count, batch):
    puts = [{"request_put": {"key": b64(k), "value": b64(v), "lease": lease}}
            for k, v in zip(keys[b:b + batch], values[b:b + batch])]
    dels = [{"request_delete_range": {"key": b64(k)}} for k in keys[b:b + batch]]
    json.dump({"success": puts}, open(f"{out}/put-{b // batch:04d}.json", "w"))
    json.dump({"success": dels}, open(f"{out}/del-{b // batch:04d}.json", "w"))
PY
}
grant=$(kit_underlay_exec curl -sf -X POST "$endpoint/v3/lease/grant" -d '{"TTL":"600"}' | jq -r .ID)
[[ $grant =~ ^[0-9]+$ ]] || kit_die "routes-sync: lease grant failed"
make_bodies "$grant"

send_all() { # put|del
  local body reply
  for body in "$bodies/$1"-*.json; do
    reply=$(kit_underlay_exec curl -sf -X POST "$endpoint/v3/kv/txn" --data-binary "@$body") ||
      kit_die "routes-sync: txn $body failed"
    [[ $(jq -r .succeeded <<<"$reply") == true ]] || kit_die "routes-sync: txn $body: $reply"
  done
}
routes_count() { kit_node_exec n1 "$SHUTTLE_BIN_DIR/shuttlectl" --json routes | jq length; }
now() { date +%s.%N; }
# wait_count <n> <timeout s>: prints seconds from now until the map holds n routes.
wait_count() {
  local want=$1 start limit
  start=$(now)
  limit=$(awk -v s="$start" -v t="$2" 'BEGIN {printf "%.3f", s + t}')
  until [[ $(routes_count 2>/dev/null) == "$want" ]]; do
    awk -v n="$(now)" -v l="$limit" 'BEGIN {exit !(n > l)}' && return 1
    sleep 0.01
  done
  awk -v s="$start" -v e="$(now)" 'BEGIN {printf "%.3f", e - s}'
}
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN {printf "%.3f", e - s}'; }

[[ $(routes_count) == 0 ]] || kit_die "routes-sync: the node's routes map is not empty at the start"
bench_gate_measure routes
for ((round = 1; round <= rounds; round++)); do
  t0=$(now)
  send_all put
  write_s=$(elapsed "$t0")
  in_line=$(wait_count "$leases" 30) || kit_die "routes-sync: round $round: $leases routes not in the map after 30 s (has $(routes_count))"
  from_first=$(elapsed "$t0")
  # What the map holds: each lease's own PublicIP and VtepMAC, VNI 1.
  distinct=$(kit_node_exec n1 "$SHUTTLE_BIN_DIR/shuttlectl" --json routes |
    jq '[([.[].underlay_ip] | unique | length), ([.[].vtep_mac] | unique | length), ([.[] | select(.vni == 1)] | length)] | join(",")' -r)
  [[ $distinct == "$leases,$leases,$leases" ]] ||
    kit_die "routes-sync: round $round: the map holds wrong entries (distinct IPs, MACs, VNI 1: $distinct)"
  t0=$(now)
  send_all del
  delete_s=$(elapsed "$t0")
  emptied=$(wait_count 0 30) || kit_die "routes-sync: round $round: the map not empty 30 s after the deletes"
  {
    echo "$round,shuttled,routes_in_line_s,$in_line,s"
    echo "$round,shuttled,routes_removed_s,$emptied,s"
    echo "$round,shuttled,routes_in_line_from_first_txn_s,$from_first,s"
    echo "$round,shuttled,etcd_write_s,$write_s,s"
    echo "$round,shuttled,etcd_delete_s,$delete_s,s"
  } >>"$csv"
  echo "routes: round $round: $leases leases in the map ${in_line} s after the last txn (written in ${write_s} s), removed in ${emptied} s" >&2
done
bench_gate_measured routes
kit_etcd_stop
