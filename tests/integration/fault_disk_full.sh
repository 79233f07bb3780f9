#!/usr/bin/env bash
# Fault matrix: the disk under the IP store fills up, then the disk under the plugin's
# records. A small tmpfs is mounted over each (in this test's own mount namespace) and filled.
# ADD must fail with a clear error and code, leave nothing half-written (the store's files
# byte for byte as before, no veth, route, endpoint or record), and work once space returns.
if [ -z "${SHUTTLE_PRIVATE_MOUNTS:-}" ]; then
    SHUTTLE_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/plugin_lib.bash"
# the tmpfs mounts must go before plugin_lib's cleanup removes $WORK
trap 'rc=$?; umount -l "$(store_dir)" "$(state_dir)" 2>/dev/null; (exit $rc); cleanup' EXIT

c=$(conf 1.0.0)
shuttlectl() { nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" --json "$@"; }
endpoint_count() { shuttlectl endpoints 2>/dev/null | jq length 2>/dev/null || echo 0; }
# Every file of a folder with its bytes (the filler excepted); reservations only: the
# reservations alone, when the ADD got past IPAM and its rollback released the address
# (last_reserved_ip moved on and the index line of a released address counts for nothing,
# as with host-local).
files_of() { (cd "$1" && for f in $(ls -A | grep -v '^filler$' | sort); do echo "== $f"; cat "$f"; echo; done); }
reservations_of() { (cd "$1" && for f in $(ls | grep '^[0-9]' | sort); do echo "== $f"; cat "$f"; echo; done); }
fill() { dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true; }
ping_ok() { ip netns exec "$RUN-$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }

# expect_add_refused <what> <store view>: ADD fails with code 5 naming ENOSPC; the store's
# view (files_of or reservations_of) as before; nothing else left.
expect_add_refused() {
    local what=$1 view=$2 before pod
    before=$($view "$(store_dir)")
    pod=$(new_pod "full-$what")
    cni ADD "full-$what" eth0 "$pod" "$c"
    [ "$RC" = 1 ] || fail "$what full: ADD exit $RC, want 1 (out=$OUT)"
    [ "$(jq .code <<<"$OUT")" = 5 ] || fail "$what full: code $(jq .code <<<"$OUT"), want 5: $OUT"
    jq -r '.msg + ": " + .details' <<<"$OUT" | contains "No space left on device" ||
        fail "$what full: the error does not say so: $OUT"
    echo "$what full: $(jq -c . <<<"$OUT")"
    [ "$($view "$(store_dir)")" = "$before" ] || fail "$what full: the store changed:
$(diff <(echo "$before") <($view "$(store_dir)"))"
    [ "$(count_host_veths)" = 1 ] || fail "$what full: host veths $(count_host_veths), want 1"
    [ "$(count_host_routes)" = 1 ] || fail "$what full: host routes $(count_host_routes), want 1"
    [ "$(count_records)" = 1 ] || fail "$what full: records $(count_records), want 1"
    [ -z "$(ls "$(state_dir)" | grep -v -e '\.json$' -e '^filler$')" ] || fail "$what full: $(ls "$(state_dir)")"
    [ "$(endpoint_count)" = 1 ] || fail "$what full: endpoints $(endpoint_count), want 1"
    ip -n "$RUN-full-$what" -o link show eth0 >/dev/null 2>&1 && fail "$what full: eth0 left in the pod"
    cni_ok DEL "full-$what" eth0 "$pod" "$c" # the runtime's DEL after a failed ADD
}

mkdir -p "$(store_dir)" "$(state_dir)"
mount -t tmpfs -o size=64k,mode=0755 shuttle-store "$(store_dir)"
mount -t tmpfs -o size=64k,mode=0755 shuttle-records "$(state_dir)"
cni_ok ADD first eth0 "$(new_pod first)" "$c"
first_ip=$(jq -r '.ips[0].address' <<<"$OUT" | cut -d/ -f1)

fill "$(store_dir)"
expect_add_refused store files_of
rm "$(store_dir)/filler"
pass "store's disk full: ADD fails with code 5 (No space left on device), nothing half-written"

fill "$(state_dir)"
expect_add_refused records reservations_of
rm "$(state_dir)/filler"
pass "records' disk full: ADD fails with code 5 after IPAM and attach, all of it undone"

cni_ok ADD second eth0 "$(new_pod second)" "$c"
second_ip=$(jq -r '.ips[0].address' <<<"$OUT" | cut -d/ -f1)
[ "$second_ip" != "$first_ip" ] || fail "the same address twice: $second_ip"
ping_ok second "$first_ip" || fail "the pod added after space returned cannot reach the first"
[ "$(endpoint_count)" = 2 ] || fail "endpoints: $(endpoint_count), want 2"
pass "space back: ADD works ($second_ip reaches $first_ip)"

cni_ok DEL first eth0 "/run/netns/$RUN-first" "$c"
cni_ok DEL second eth0 "/run/netns/$RUN-second" "$c"
expect_clean_node
[ "$(endpoint_count)" = 0 ] || fail "endpoints left: $(endpoint_count)"
pass "both pods deleted: the node is clean"
