#!/usr/bin/env bash
# Uninstall: `shuttlectl uninstall` (and `shuttled --cleanup`) detach every program (pods,
# shuttle.1, from_underlay on eth0: none left by tc or TCX), remove every pin, delete
# shuttle.1 and the nftables table, and keep what flannel needs to take the node back: the
# etcd lease, subnet.env and the IP store. A restarted shuttled takes
# the same lease and brings everything back.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2
start_shuttled n1 --ip-masq
start_shuttled n2
wait_ready n1
wait_ready n2
key=$(node_subnet_key n1)
ip=$(add_pod n1 u1)
veth=$(kit_node_exec n1 ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^sh')
[[ -n $veth ]] || fail "no host veth for u1"
status=$(kit_node_exec n1 "$bin/shuttlectl" --json status)
assert_eq true "$(jq -r '.attachments[0].attached' <<<"$status")" "programs on the pod's veth"
assert_eq true "$(jq -r '.overlay.attached' <<<"$status")" "programs on shuttle.1"
assert_eq "direct eth0 true" "$(jq -r '"\(.overlay_mode) \(.underlay.ifname) \(.underlay.attached)"' <<<"$status")" \
  "from_underlay on eth0 (direct mode)"
assert_eq 1 "$(tcx_count n1 eth0 ingress)" "one TCX program on eth0 ingress"

expect_uninstalled() {  # <what>
  assert_fails "$1: shuttle.1 gone" kit_node_exec n1 ip link show shuttle.1
  assert_fails "$1: table ip shuttle gone" kit_node_exec n1 nft list table ip shuttle
  # No pins left: TCX links (auto mode) live only while pinned, so they are detached too.
  assert_eq "" "$(kit_node_exec n1 sh -c 'find /sys/fs/bpf/shuttle -mindepth 1 -not -type d 2>/dev/null')" "$1: no pins left"
  assert_fails "$1: shuttlectl finds no datapath" kit_node_exec n1 "$bin/shuttlectl" status
  assert_not_contains "$(kit_node_exec n1 tc filter show dev "$veth" ingress)" "bpf" "$1: pod veth ingress clean"
  assert_not_contains "$(kit_node_exec n1 tc filter show dev "$veth" egress)" "bpf" "$1: pod veth egress clean"
  # flannel's VXLAN traffic arrives on eth0: nothing of shuttle's may stay there.
  assert_not_contains "$(kit_node_exec n1 tc filter show dev eth0 ingress)" "bpf" "$1: no tc filter on eth0 ingress"
  assert_eq 0 "$(tcx_count n1 eth0 ingress)" "$1: no TCX program on eth0 ingress"
  assert_contains "$(kit_etcdctl get --print-value-only "/coreos.com/network/subnets/$key")" \
    "\"PublicIP\":\"$(kit_node_ip n1)\"" "$1: lease kept"
  assert_ok "$1: subnet.env kept" kit_node_exec n1 grep -qx "FLANNEL_SUBNET=${key%.0-24}.1/24" /run/flannel/subnet.env
  assert_eq ctr-u1 "$(kit_node_exec n1 head -n1 "/var/lib/cni/networks/cbr0/$ip" | tr -d '\r')" \
    "$1: IP store kept"
  assert_ok "$1: the pod's veth stays" kit_node_exec n1 ip link show "$veth"
}

kit_stop "${SHUTTLED_PID[n1]}"
out=$(kit_node_exec n1 "$bin/shuttlectl" uninstall)
assert_contains "$out" "deleted VXLAN device shuttle.1" "uninstall reports the device"
assert_contains "$out" "deleted nftables table ip shuttle" "uninstall reports the table"
expect_uninstalled "shuttlectl uninstall"
out=$(kit_node_exec n1 "$bin/shuttlectl" uninstall)
assert_not_contains "$out" "deleted" "a second uninstall finds nothing to delete"
pass "shuttlectl uninstall removes the datapath and keeps lease, subnet.env and IP store"

start_shuttled n1 --ip-masq
wait_ready n1
assert_eq "$key" "$(node_subnet_key n1)" "same lease after reinstall"
assert_ok "table back" kit_node_exec n1 nft list table ip shuttle
kit_stop "${SHUTTLED_PID[n1]}"
# The pod was attached by the plugin; the fresh maps do not know it until its next ADD, so
# only the device, the table and the pins are checked here.
kit_node_exec n1 "$bin/shuttled" --cleanup 2>"$(kit_run_dir)/cleanup.log" || fail "shuttled --cleanup failed"
assert_contains "$(cat "$(kit_run_dir)/cleanup.log")" "cleanup: deleted VXLAN device shuttle.1" "--cleanup logs"
expect_uninstalled "shuttled --cleanup"
pass "shuttled --cleanup does the same"
