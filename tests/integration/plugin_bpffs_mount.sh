#!/usr/bin/env bash
# A node without a bpf filesystem at /sys/fs/bpf (an init that is not systemd, a minimal
# image): the plugin's ADD and STATUS mount one there and say so in the log. Where that is
# impossible (/sys/fs read-only, a file in the way, no CAP_SYS_ADMIN) ADD fails with code 107
# and STATUS with 50, each naming the command to run. The whole test runs in a private mount
# namespace: the host's /sys/fs/bpf is never touched.
if [ -z "${SHUTTLE_PRIVATE_MOUNTS:-}" ]; then
    SHUTTLE_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/plugin_lib.bash"

ROOT=/sys/fs/bpf/shuttle
LOG=$WORK/plugin.log
c=$(conf 1.1.0 ".bpffsRoot = \"$ROOT\" | .logFile = \"$LOG\"")
MOUNTED="mounted a bpf filesystem at /sys/fs/bpf (nothing was mounted there)"

fs_type() { stat -f -c %T "$1" 2>/dev/null || echo none; }
mounts_at() { awk -v p="$1" '$5 == p' /proc/self/mountinfo | wc -l; }
unmount_bpffs() { while [ "$(fs_type /sys/fs/bpf)" = bpf_fs ]; do umount -l /sys/fs/bpf; done; }
endpoints() {
    nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$ROOT" --json endpoints |
        jq length
}
# expect_failure CODE: the last call failed with CODE and its details name the command.
expect_failure() {
    local code=$1 command=$2
    [ "$RC" = 1 ] || fail "expected exit 1, got $RC (out=$OUT)"
    [ "$(jq .code <<<"$OUT")" = "$code" ] || fail "expected code $code: $OUT"
    jq -r .details <<<"$OUT" | contains "run: $command" || fail "details do not name '$command': $OUT"
}

# --- (a) nothing mounted: the next ADD mounts it ------------------------------------------
unmount_bpffs
[ "$(fs_type /sys/fs/bpf)" = sysfs ] || fail "/sys/fs/bpf is $(fs_type /sys/fs/bpf), want sysfs"
cni_ok ADD m-1 eth0 "$(new_pod m1)" "$c"
[ "$(fs_type /sys/fs/bpf)" = bpf_fs ] || fail "ADD did not mount bpffs at /sys/fs/bpf"
grep -qF "$MOUNTED" "$LOG" || fail "logFile does not say so: $(cat "$LOG")"
grep -qF "$MOUNTED" <<<"$ERR" || fail "stderr does not say so: $ERR"
cni_ok ADD m-2 eth0 "$(new_pod m2)" "$c"
[ "$(endpoints)" = 2 ] || fail "endpoints pinned under $ROOT: $(endpoints), want 2"
[ "$(mounts_at /sys/fs/bpf)" = 1 ] || fail "$(mounts_at /sys/fs/bpf) mounts at /sys/fs/bpf, want 1"
[ "$(grep -cF "$MOUNTED" "$LOG")" = 1 ] || fail "the second ADD mounted again: $(cat "$LOG")"
pass "ADD mounts bpffs at /sys/fs/bpf once, logs it, and pins there"

unmount_bpffs
: >"$LOG"
cni_ok STATUS "" "" "" "$c"
[ "$(fs_type /sys/fs/bpf)" = bpf_fs ] || fail "STATUS did not mount bpffs at /sys/fs/bpf"
grep -qF "$MOUNTED" "$LOG" || fail "logFile does not say so: $(cat "$LOG")"
pass "STATUS mounts it too, as the next ADD would"

# /sys/fs/bpf missing (a /sys/fs without it, writable): made, then mounted.
unmount_bpffs
mount -t tmpfs tmpfs /sys/fs
cni_ok ADD m-3 eth0 "$(new_pod m3)" "$c"
[ "$(fs_type /sys/fs/bpf)" = bpf_fs ] || fail "ADD did not make and mount /sys/fs/bpf"
[ "$(endpoints)" = 3 ] || fail "new maps: $(endpoints) endpoints, want 3 (two re-attached)"
umount -l /sys/fs
pass "a missing /sys/fs/bpf is made and mounted"

# --- (b) mounting impossible: the error names the command ---------------------------------
veths=$(count_host_veths)
try_add_and_status() { # what-it-is command
    cni ADD m-4 eth0 "$(new_pod "m4$RANDOM")" "$c"
    expect_failure 107 "$2"
    [ "$(count_host_veths)" = "$veths" ] || fail "$1: the failed ADD left a veth"
    cni STATUS "" "" "" "$c"
    expect_failure 50 "$2"
    pass "$1: ADD 107 and STATUS 50 name '$2'"
}

mount -t tmpfs -o ro tmpfs /sys/fs
try_add_and_status "/sys/fs read-only, no /sys/fs/bpf" "mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf"
umount /sys/fs

mount -t tmpfs tmpfs /sys/fs
touch /sys/fs/bpf
try_add_and_status "a file at /sys/fs/bpf" "mount -t bpf bpf /sys/fs/bpf"
umount /sys/fs

unmount_bpffs
printf '#!/bin/sh\nexec setpriv --bounding-set -sys_admin --inh-caps -sys_admin %s "$@"\n' "$SHUTTLE" \
    >"$WORK/shuttle-without-sys-admin"
chmod +x "$WORK/shuttle-without-sys-admin"
PLUGIN=$WORK/shuttle-without-sys-admin cni STATUS "" "" "" "$c"
expect_failure 50 "mount -t bpf bpf /sys/fs/bpf"
jq -r .details <<<"$OUT" | contains "Operation not permitted" || fail "not EPERM: $OUT"
pass "without CAP_SYS_ADMIN STATUS names the command"

for k in 1 2 3; do cni_ok DEL "m-$k" eth0 "/run/netns/$RUN-m$k" "$c"; done
