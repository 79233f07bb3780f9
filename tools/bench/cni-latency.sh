#!/usr/bin/env bash
# ADD and DEL latency (p50, p99 over N sequential pods) of shuttle next to Debian's bridge
# plugin with host-local, measured the same way in the same run. Not part of ctest.
#
#   sudo tools/bench/cni-latency.sh [N]        (N defaults to 100)
#   SHUTTLE_ATTACH="auto none" (default auto): shuttle's attach modes, each measured in turn
#   (tc, tcx, auto, none = no eBPF: the ADD cost of the datapath is auto against none).
#   SHUTTLE_DUAL_STACK=1: both networks get an IPv6 range set beside the IPv4 one.
#
# Everything happens in namespaces made here (a node netns and N pod netns per plugin);
# nothing touches the root namespace. Each plugin call is timed from exec to exit by a loop
# that already runs inside the node, so both plugins pay the same process start cost.
set -euo pipefail
N=${1:-100}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHUTTLE=${SHUTTLE_BIN_DIR:-$ROOT/build/bin}/shuttle
REF=/usr/lib/cni
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
[ -x "$SHUTTLE" ] || { echo "build first: $SHUTTLE missing" >&2; exit 1; }

RUN=bench$$
NODE=${RUN}n
WORK=$(mktemp -d /tmp/shuttle-bench.XXXXXX)
cleanup() {
    for i in $(seq 1 "$N"); do
        ip netns del "$RUN-s$i" 2>/dev/null || true
        ip netns del "$RUN-b$i" 2>/dev/null || true
    done
    ip netns del "$NODE" 2>/dev/null || true
    umount -l "$WORK/bpffs" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
# shuttle's datapath pins into a bpffs of the benchmark's own, never the host's /sys/fs/bpf.
mkdir -p "$WORK/bpffs"
mount -t bpf bpf "$WORK/bpffs"

mkdir -p "$WORK/bin"
ln -s "$SHUTTLE" "$WORK/bin/shuttle"
for p in bridge host-local loopback; do ln -s "$REF/$p" "$WORK/bin/$p"; done
ip netns add "$NODE"
ip -n "$NODE" link set lo up
for i in $(seq 1 "$N"); do
    ip netns add "$RUN-s$i"
    ip netns add "$RUN-b$i"
done

MODES=(${SHUTTLE_ATTACH:-auto})
V6_SHUTTLE='' V6_BRIDGE='' STACK=IPv4
if [ "${SHUTTLE_DUAL_STACK:-0}" = 1 ]; then
    V6_SHUTTLE=',[{"subnet":"fd00:88:2::/64"}]' V6_BRIDGE=',[{"subnet":"fd00:88:1::/64"}]' STACK=dual-stack
fi
for mode in "${MODES[@]}"; do
    cat >"$WORK/shuttle-$mode.json" <<JSON
{"cniVersion":"1.0.0","name":"bench-shuttle","type":"shuttle","mtu":1450,"dataDir":"$WORK/state",
 "bpffsRoot":"$WORK/bpffs/shuttle","attach":"$mode",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.2.0/24"}]$V6_SHUTTLE],"dataDir":"$WORK/networks"}}
JSON
done
cat >"$WORK/bridge.json" <<JSON
{"cniVersion":"1.0.0","name":"bench-bridge","type":"bridge","bridge":"cni0","isGateway":true,
 "mtu":1450,"hairpinMode":true,
 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.1.0/24"}]$V6_BRIDGE],"dataDir":"$WORK/networks"}}
JSON

# The timing loop, run inside the node: prints "<command> <microseconds>" per call.
cat >"$WORK/loop.sh" <<'LOOP'
set -euo pipefail
plugin=$1 conf=$2 prefix=$3 n=$4 bin=$5
export CNI_PATH=$bin CNI_IFNAME=eth0
for cmd in ADD DEL; do
    for i in $(seq 1 "$n"); do
        export CNI_COMMAND=$cmd CNI_CONTAINERID=$prefix-$i CNI_NETNS=/run/netns/$prefix$i
        t0=$EPOCHREALTIME
        "$bin/$plugin" <"$conf" >/dev/null 2>>"$bin/../stderr.log" ||
            { echo "$plugin $cmd $i failed" >&2; cat "$bin/../stderr.log" >&2; exit 1; }
        t1=$EPOCHREALTIME
        echo "$cmd $(( (${t1/./} - ${t0/./}) ))"
    done
done
LOOP

measure() {  # PLUGIN CONF PREFIX LABEL -> $WORK/LABEL.samples
    nsenter --net=/run/netns/"$NODE" bash "$WORK/loop.sh" "$1" "$2" "$3" "$N" "$WORK/bin" >"$WORK/$4.samples"
}

percentile() {  # FILE COMMAND P -> milliseconds
    grep "^$2 " "$1" | awk '{print $2}' | sort -n | awk -v p="$3" '
        { v[NR] = $1 } END { i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR;
                             printf "%.2f", v[i] / 1000 }'
}

for mode in "${MODES[@]}"; do measure shuttle "$WORK/shuttle-$mode.json" "$RUN-s" "shuttle-$mode"; done
measure bridge "$WORK/bridge.json" "$RUN-b" bridge

echo "CNI latency over $N sequential pods, $STACK (ms, exec to exit, node = netns, kernel $(uname -r))"
printf '| plugin | ADD p50 | ADD p99 | DEL p50 | DEL p99 |\n|---|---|---|---|---|\n'
for p in "${MODES[@]/#/shuttle-}" bridge; do
    f=$WORK/$p.samples
    label="shuttle (built-in host-local IPAM, attach ${p#shuttle-})"
    [ "$p" = bridge ] && label="bridge + host-local (Debian $(dpkg-query -W -f='${Version}' containernetworking-plugins 2>/dev/null || echo '?'))"
    printf '| %s | %s | %s | %s | %s |\n' "$label" "$(percentile "$f" ADD 50)" "$(percentile "$f" ADD 99)" \
        "$(percentile "$f" DEL 50)" "$(percentile "$f" DEL 99)"
done
