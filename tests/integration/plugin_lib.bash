# Shared helpers for tests/integration/plugin_*.sh (sourced, not a test of its own).
# A "node" is a named netns made for this run; pods are named netns too. Nothing is added to
# the root namespace; everything is removed by the EXIT trap, also on failure.
set -euo pipefail

BIN=${SHUTTLE_BIN_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin}
SHUTTLE=$BIN/shuttle
CNI_BIN_DIR=/usr/lib/cni
[ -x "$SHUTTLE" ] || { echo "missing $SHUTTLE" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }

# Unique per run: short, as netns names end up in interface-free paths only. The name starts
# with this shell's PID and $WORK/owner records it with its start time: after a SIGKILL (a
# ctest timeout, no trap runs) tools/test-sweep.sh removes the run once that process is gone.
RUN=sp$$-$RANDOM
NODE=${RUN}n
WORK=$(mktemp -d /tmp/shuttle-plugin-test.XXXXXX)
echo "$RUN" >"$WORK/run"
echo "owner $$ $(cut -d' ' -f22 /proc/$$/stat)" >"$WORK/owner"
CNI_PATH_DIR=$WORK/bin
mkdir -p "$CNI_PATH_DIR"
ln -s "$SHUTTLE" "$CNI_PATH_DIR/shuttle"
for p in "$CNI_BIN_DIR"/*; do ln -s "$p" "$CNI_PATH_DIR/$(basename "$p")"; done
# A bpffs of the test's own for the datapath's pins (never the host's /sys/fs/bpf).
BPFFS=$WORK/bpffs
mkdir -p "$BPFFS"
mount -t bpf bpf "$BPFFS"

cleanup() {
    local rc=$?
    # every netns of this run (new_pod runs in $(...) subshells, so no list survives)
    for p in $(command ip netns list | awk '{print $1}' | grep "^$RUN-"); do
        command ip netns del "$p" 2>/dev/null || true
    done
    ip netns del "$NODE" 2>/dev/null || true
    umount -l "$BPFFS" 2>/dev/null || true
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT

ip netns add "$NODE"
ip -n "$NODE" link set lo up

# iproute2 warns about veth peers in namespaces it cannot name; that is noise here.
ip() { command ip "$@" 2> >(grep -v 'Peer netns reference is invalid' >&2); }

# `cmd | contains PATTERN`: reads all of cmd's output first (grep -q would exit early and,
# under pipefail, fail the pipeline through cmd's SIGPIPE).
contains() {
    local text
    text=$(cat)
    grep -q -- "$1" <<<"$text"
}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# new_pod NAME -> creates netns $RUN-NAME, prints its path
new_pod() {
    local ns=$RUN-$1
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    echo "/run/netns/$ns"
}

# cni COMMAND CONTAINERID IFNAME NETNS CONFIG [CNI_ARGS] -> sets OUT, ERR, RC
# Runs build/bin/shuttle (or $PLUGIN) inside the node with only the CNI variables set
# (and SHUTTLE_TEST_STOP_AT when the caller sets it: the fault tests' kill point).
cni() {
    local cmd=$1 cid=$2 ifname=$3 netns=$4 conf=$5 args=${6:-}
    local plugin=${PLUGIN:-$CNI_PATH_DIR/shuttle}
    set +e
    OUT=$(echo "$conf" | nsenter --net=/run/netns/"$NODE" env -i PATH="$PATH" \
        CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" CNI_IFNAME="$ifname" CNI_NETNS="$netns" \
        CNI_PATH="$CNI_PATH_DIR" CNI_ARGS="$args" \
        ${SHUTTLE_TEST_STOP_AT:+SHUTTLE_TEST_STOP_AT="$SHUTTLE_TEST_STOP_AT"} \
        "$plugin" 2>"$WORK/stderr")
    RC=$?
    set -e
    ERR=$(cat "$WORK/stderr")
    # A sanitized plugin (tools/test-asan.sh) exits 23 on a finding; UBSan writes its report
    # to stderr (gcc's separate libubsan ignores log_path), so look there too.
    [ "$RC" != 23 ] || fail "$cmd $cid: the plugin exited 23 (a sanitizer report, see build-asan/sanitizer-reports/)"
    if grep -q -e 'runtime error: ' -e 'ERROR: [A-Za-z]*Sanitizer' <<<"$ERR"; then
        fail "$cmd $cid: sanitizer report from the plugin: $ERR"
    fi
}

# cni_ok ... : like cni but fails the test unless RC is 0.
cni_ok() {
    cni "$@"
    [ "$RC" = 0 ] || fail "$1 $2 expected success, got rc=$RC out=$OUT err=$ERR"
}

# expect_error [CODE] 'JSON' : the last call failed with exit 1 and exactly this error object.
expect_error() {
    local want=${!#}
    [ "$RC" = 1 ] || fail "expected exit 1, got $RC (out=$OUT)"
    local got
    # one jq for both (jq 1.6 takes ~25 ms of CPU to start; the suite runs it thousands of times)
    { read -r got && read -r want; } < <(jq -ncS --argjson g "$OUT" --argjson w "$want" '$g, $w' 2>/dev/null) ||
        fail "stdout (or the expected error) is not JSON: $OUT"
    [ "$got" = "$want" ] || fail "error object differs
  want: $want
  got:  $got"
}

json_eq() {
    local a b
    { read -r a && read -r b; } < <(jq -ncS --argjson a "$1" --argjson b "$2" '$a, $b') || fail "not JSON: $1 / $2"
    [ "$a" = "$b" ] || fail "JSON differs
  want: $b
  got:  $a"
}

# conf VERSION [extra jq filter] -> a shuttle config on a fresh data dir per network name
conf() {
    local version=$1 filter=${2:-.}
    jq -cn --arg v "$version" --arg dd "$WORK/networks" "{
        cniVersion: \$v, name: \"net-$RUN\", type: \"shuttle\", mtu: 1400,
        dataDir: \"$WORK/shuttle\", bpffsRoot: \"$BPFFS/shuttle\",
        ipam: {type: \"host-local\", ranges: [[{subnet: \"10.99.1.0/24\"}]],
               routes: [{dst: \"10.99.0.0/16\"}], dataDir: \$dd}} | $filter"
}

store_dir() { echo "$WORK/networks/net-$RUN"; }
state_dir() { echo "$WORK/shuttle/net-$RUN"; }

node() { ip netns exec "$NODE" "$@"; }

# Leftovers on the node: host veths, /32 host routes, reservations, records.
count_host_veths() { ip -n "$NODE" -o link show 2>/dev/null | grep -c ' sh[0-9a-f]\{13\}' || true; }
count_host_routes() { ip -n "$NODE" -4 route show | grep -c 'dev sh' || true; }
count_reservations() { ls "$(store_dir)" 2>/dev/null | grep -Ec '^[0-9a-f]+[.:]' || true; }
count_records() { ls "$(state_dir)" 2>/dev/null | grep -c '\.json$' || true; }

expect_clean_node() {
    [ "$(count_host_veths)" = 0 ] || fail "host veths left: $(ip -n "$NODE" -o link show)"
    [ "$(count_host_routes)" = 0 ] || fail "host routes left: $(ip -n "$NODE" route)"
    [ "$(count_reservations)" = 0 ] || fail "reservations left: $(ls "$(store_dir)")"
    [ "$(count_records)" = 0 ] || fail "records left: $(ls "$(state_dir)")"
}
