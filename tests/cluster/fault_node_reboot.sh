#!/usr/bin/env bash
# Fault matrix: a node "reboots" (kit_node_reboot: every process in it SIGKILLed, its network
# namespace, /run and bpffs recreated, the IP store and the plugin's records kept, its pods'
# sandboxes gone). An ADD before shuttled is back fails cleanly (no subnet.env yet); then
# shuttled takes the same lease again, the runtime DELs the lost sandboxes and ADDs new
# ones, and the node is consistent: the store holds exactly the new pods, endpoints = the
# reservations, every pod and the overlay attached, the routes maps of both nodes right,
# traffic both ways. The time from shuttled's start to the first cross-node reply is printed.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2
for n in n1 n2; do start_shuttled "$n"; done
for n in n1 n2; do wait_ready "$n"; done
key1=$(node_subnet_key n1)
key2=$(node_subnet_key n2)
wait_until 10 "n1 routes n2" routes_are n1 "${key2/-//}"
add_pod n1 r1 >/dev/null
add_pod n1 r2 >/dev/null
ip_r3=$(add_pod n2 r3)

kit_node_reboot n1
kit_pod_del r1
kit_pod_del r2
assert_fails "a fresh bpffs (no shuttle pins)" kit_node_exec n1 test -e /sys/fs/bpf/shuttle
assert_fails "no subnet.env after the reboot" kit_node_exec n1 test -e /run/flannel/subnet.env
assert_eq 2 "$(kit_node_exec n1 sh -c 'ls /var/lib/cni/networks/cbr0 | grep -c "^[0-9]"')" "the store kept"

# The runtime tries a new pod before shuttled is back: refused, nothing left behind.
kit_pod_add early
out=$(kit_cni n1 ADD ctr-early early eth0 "$POD_CONF") && fail "ADD without subnet.env succeeded: $out"
assert_eq 11 "$(jq .code <<<"$out")" "ADD before shuttled: code (out: $out)"
assert_eq 2 "$(kit_node_exec n1 sh -c 'ls /var/lib/cni/networks/cbr0 | grep -c "^[0-9]"')" "no reservation for it"
kit_cni n1 DEL ctr-early early eth0 "$POD_CONF" >/dev/null || fail "DEL of the refused pod"

started=$(date +%s%N)
start_shuttled n1
wait_ready n1
assert_eq "$key1" "$(node_subnet_key n1)" "n1 took its lease again"
# The runtime: DEL of the lost sandboxes (their netns is gone), then new sandboxes.
for p in r1 r2; do
  out=$(kit_cni n1 DEL "ctr-$p" "$p" eth0 "$POD_CONF") || fail "DEL of lost sandbox $p: $out"
done
ip_n1=$(add_pod n1 n1a)
ip_n2=$(add_pod n1 n1b)
until pod_ping n1a "$ip_r3" 1 >/dev/null 2>&1; do
  (($(date +%s%N) - started < 30000000000)) || fail "no cross-node traffic 30 s after shuttled's start"
done
ms=$((($(date +%s%N) - started) / 1000000))

status=$(kit_node_exec n1 "$bin/shuttlectl" --json status)
assert_eq "2 true" "$(jq -r '"\([.attachments[] | select(.attached)] | length) \(.overlay.attached)"' <<<"$status")" \
  "every pod and the overlay attached ($status)"
reserved=$(kit_node_exec n1 sh -c 'cd /var/lib/cni/networks/cbr0 && for f in [0-9]*; do echo "$f $(head -1 "$f" | tr -d "\r")"; done' | sort)
assert_eq "$(printf '%s ctr-n1a\n%s ctr-n1b\n' "$ip_n1" "$ip_n2" | sort)" "$reserved" "the store holds exactly the new pods"
assert_eq "$(cut -d' ' -f1 <<<"$reserved")" \
  "$(kit_node_exec n1 "$bin/shuttlectl" --json endpoints | jq -r '.[].ip' | sort)" "endpoints = reservations"
assert_eq 2 "$(kit_node_exec n1 sh -c 'ls /var/lib/cni/shuttle/cbr0/*.json | wc -l')" "records = the new pods"
assert_ok "n1's routes" map_is n1 "${key2/-//}"
assert_ok "n2's routes" map_is n2 "${key1/-//}"
assert_ok "r3 -> n1b" pod_ping r3 "$ip_n2"
assert_ok "n1b -> n1a" pod_ping n1b "$ip_n1"
assert_ok "n1 host -> r3" kit_node_exec n1 ping -c 1 -W 1 "$ip_r3"
pass "after a reboot the node is consistent again; cross-node traffic ${ms} ms after shuttled's start"
