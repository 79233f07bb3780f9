#!/usr/bin/env bash
# Fault matrix: the plugin SIGKILLed at each step of ADD and of DEL (SHUTTLE_TEST_STOP_AT,
# userspace/common/fault_point.h), then what a runtime does next (DEL, then the ADD again;
# or DEL again) must leave the node as if the killed call had never run: no host veth,
# route, reservation, record, endpoint entry or link pin left over, no address held twice,
# and the retried pod talks to a pod that lived through it all. Both attach modes.
source "$(dirname "$0")/plugin_lib.bash"

shuttlectl() { nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" --json "$@"; }
endpoint_ips() { shuttlectl endpoints | jq -r '.[].ip' | sort; }
# "<endpoint slots in use>" then the endpoints' IPs: one jq for both
# (jq 1.6 takes ~25 ms of CPU to start; this runs three times per kill point)
slots_and_endpoint_ips() {
    jq -rn --argjson s "$(shuttlectl status)" --argjson e "$(shuttlectl endpoints)" \
        '$s.maps.endpoints.used, $e[].ip'
}
link_pins() { find "$BPFFS/shuttle" -path '*/links/*' -type f 2>/dev/null | grep -vc '/overlay-' || true; }
reserved_ips() { ls "$(store_dir)" | grep '^[0-9]' | sort; }
ping_ok() { ip netns exec "$RUN-$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }

# killed <command> <point> <args of cni...>: the call must die by SIGKILL (exit 137).
killed() {
    local point=$1
    shift
    SHUTTLE_TEST_STOP_AT=$point cni "$@"
    [ "$RC" = 137 ] || fail "$1 with SHUTTLE_TEST_STOP_AT=$point: expected SIGKILL (137), got rc=$RC out=$OUT"
}

# The node holds exactly the anchor pod and, if given, one more (its container ID).
expect_node_holds() {
    local extra=${1:-} want_pods=1 ids
    [ -n "$extra" ] && want_pods=2
    [ "$(count_host_veths)" = "$want_pods" ] || fail "host veths: $(count_host_veths), want $want_pods"
    [ "$(count_host_routes)" = "$want_pods" ] || fail "host routes: $(ip -n "$NODE" route)"
    [ "$(count_records)" = "$want_pods" ] || fail "records: $(ls "$(state_dir)")"
    [ "$(count_reservations)" = "$want_pods" ] || fail "reservations: $(reserved_ips)"
    ids=$(for ip in $(reserved_ips); do head -1 "$(store_dir)/$ip" | tr -d '\r'; echo; done | sort | xargs)
    [ "$ids" = "$(printf '%s\n' anchor $extra | sort | xargs)" ] || fail "reservations held by: $ids"
    local slots ips
    { read -r slots && ips=$(sort); } < <(slots_and_endpoint_ips) || fail "shuttlectl status/endpoints: no JSON"
    [ "$ips" = "$(reserved_ips)" ] || fail "endpoints $(xargs <<<"$ips") vs reservations $(reserved_ips | xargs)"
    [ "$slots" = "$want_pods" ] || fail "endpoint slots in use: $slots, want $want_pods"
    [ "$(link_pins)" = "$([ "$MODE" = tcx ] && echo $((want_pods * 2)) || echo 0)" ] ||
        fail "link pins: $(find "$BPFFS/shuttle" -path '*/links/*' -type f)"
}

for MODE in tc tcx; do
    c=$(conf 1.0.0 ".attach = \"$MODE\"")
    cni_ok ADD anchor eth0 "$(new_pod "anchor-$MODE")" "$c"
    anchor_ip=$(echo "$OUT" | jq -r '.ips[0].address' | cut -d/ -f1)
    expect_node_holds

    for point in add-after-ipam add-after-veth attach-after-endpoint add-after-attach add-after-record; do
        pod=$(new_pod "k-$MODE-$point")
        killed "$point" ADD victim eth0 "$pod" "$c"
        started=$(date +%s%N)
        cni_ok DEL victim eth0 "$pod" "$c"
        expect_node_holds
        cni_ok ADD victim eth0 "$pod" "$c"
        ip=$(echo "$OUT" | jq -r '.ips[0].address' | cut -d/ -f1)
        until ping_ok "k-$MODE-$point" "$anchor_ip"; do
            (($(date +%s%N) - started < 5000000000)) || fail "$point: no traffic 5 s after DEL + ADD"
        done
        ms=$((($(date +%s%N) - started) / 1000000))
        ping_ok "anchor-$MODE" "$ip" || fail "$point: anchor cannot reach the retried pod"
        expect_node_holds victim
        [ "$(shuttlectl status | jq -r "[.attachments[] | select(.attached)] | length")" = 2 ] ||
            fail "$point: $(shuttlectl status)"
        cni_ok DEL victim eth0 "$pod" "$c"
        expect_node_holds
        pass "$MODE: ADD killed at $point, then DEL + ADD: clean, pod talks after ${ms} ms"
    done

    for point in del-after-pod-interface del-after-host-veth del-after-datapath del-after-ipam; do
        pod=$(new_pod "d-$MODE-$point")
        cni_ok ADD victim eth0 "$pod" "$c"
        killed "$point" DEL victim eth0 "$pod" "$c"
        cni_ok DEL victim eth0 "$pod" "$c"
        expect_node_holds
        ping_ok "anchor-$MODE" "$anchor_ip" || true
        pass "$MODE: DEL killed at $point, then DEL again: clean"
    done

    cni_ok DEL anchor eth0 "/run/netns/$RUN-anchor-$MODE" "$c"
    expect_clean_node
    [ -z "$(endpoint_ips)" ] || fail "endpoints left: $(endpoint_ips)"
    [ "$(link_pins)" = 0 ] || fail "link pins left"
done
