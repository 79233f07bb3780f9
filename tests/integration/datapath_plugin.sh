#!/usr/bin/env bash
# The datapath behind the real plugin: pods added by `shuttle` talk through the eBPF path with
# forwarding off in the node, and after the node's bpffs loses its pins the next ADD brings
# the earlier pods' entries and programs back.
source "$(dirname "$0")/plugin_lib.bash"

c=$(conf 1.0.0)
ping_ok() { ip netns exec "$RUN-$1" ping -c 2 -i 0.2 -W 1 "$2" >/dev/null 2>&1; }
redirects() {
    nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" --json stats |
        jq '[.[] | select(.verdict == "redirect" and .reason == "local") | .packets] | add // 0'
}

for k in 1 2; do cni_ok ADD "dp-$k" eth0 "$(new_pod "dp$k")" "$c"; done
node sysctl -qw net.ipv4.ip_forward=0
before=$(redirects)
ping_ok dp1 10.99.1.3 || fail "pod-to-pod ping through the eBPF path"
after=$(redirects)
[ $((after - before)) -ge 4 ] || fail "redirect counter rose by $((after - before)), want >= 4"
pass "pods added by the plugin reach each other with ip_forward=0"

# bpffs remounted: the pins are gone. tc filters (attach auto = tc for pods without egress
# shaping) hold their programs, and those programs their maps, so the pods keep talking on
# the old maps until the next ADD rebuilds.
umount -l "$BPFFS"
mount -t bpf bpf "$BPFFS"
ping_ok dp1 10.99.1.3 || fail "lost pins broke the running datapath"

cni_ok ADD dp-3 eth0 "$(new_pod dp3)" "$c"
node sysctl -qw net.ipv4.ip_forward=0 # ADD turns forwarding on for the fallback path
n=$(nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" --json endpoints | jq length)
[ "$n" = 3 ] || fail "endpoints after recovery: $n, want 3"
before=$(redirects)
ping_ok dp1 10.99.1.3 || fail "earlier pods not re-attached after lost pins"
ping_ok dp3 10.99.1.2 || fail "new pod cannot reach an earlier one"
after=$(redirects)
# The counters live in the new maps: only re-attached programs can raise them.
[ $((after - before)) -ge 8 ] || fail "new maps saw $((after - before)) redirects, want >= 8"
pass "the first ADD after lost pins re-attaches the node's pods"

for k in 1 2 3; do cni_ok DEL "dp-$k" eth0 "/run/netns/$RUN-dp$k" "$c"; done
expect_clean_node
pass "DEL cleans up"

# attach none: the host routing alone (the fallback path, and ADD's cost without eBPF)
cn=$(conf 1.0.0 '.attach = "none"')
declare -A none_ip
for k in 1 2; do
    cni_ok ADD "dpn-$k" eth0 "$(new_pod "dpn$k")" "$cn"
    h=$(echo "$OUT" | jq -r '.interfaces[0].name')
    none_ip[$k]=$(echo "$OUT" | jq -r '.ips[0].address' | cut -d/ -f1)
    node tc filter show dev "$h" ingress | contains from_pod && fail "attach none attached from_pod to $h"
done
ping_ok dpn1 "${none_ip[2]}" || fail "pods without eBPF reach each other by host routing"
n=$(nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" --json endpoints | jq length)
[ "$n" = 0 ] || fail "attach none wrote $n endpoints"
for k in 1 2; do cni_ok DEL "dpn-$k" eth0 "/run/netns/$RUN-dpn$k" "$cn"; done
expect_clean_node
pass "attach none: host routing only, nothing attached"
