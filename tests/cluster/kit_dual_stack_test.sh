#!/usr/bin/env bash
# The kit's dual-stack underlay (kit_underlay_dual_stack / kit_cluster_up N --dual-stack):
# the bridge and every node's eth0 hold their ULA addresses, nodes reach each other and the
# bridge over IPv6, a node added later and a rebooted node get theirs too, an underlay host
# can have one; without asking, the underlay stays IPv4 only.
set -euo pipefail
source_dir=${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$source_dir/tools/cluster/kit.sh"
source "$source_dir/tools/cluster/assert.sh"

global6() { ip -n "$1" -6 -o addr show dev eth0 scope global | awk '{print $4}' | xargs; }

# --- an IPv4-only underlay has no global IPv6 and refuses kit_node_ip6
kit_cluster_up 1
assert_eq "" "$(global6 "$(kit_node_netns n1)")" "no IPv6 unless asked for"
assert_fails "kit_node_ip6 on an IPv4 underlay" kit_node_ip6 n1

# --- asked for after the first node, with a second one added later
kit_underlay_dual_stack
kit_node_add n2
assert_eq fd77::11 "$(kit_node_ip6 n1)" "n1's IPv6"
assert_eq fd77::12 "$(kit_node_ip6 n2)" "n2's IPv6"
assert_eq fd77::11/64 "$(global6 "$(kit_node_netns n1)")" "n1's eth0 (added before the underlay turned dual-stack)"
assert_eq fd77::12/64 "$(global6 "$(kit_node_netns n2)")" "n2's eth0 (added after)"
assert_contains "$(ip -n "$(kit_underlay_netns)" -6 -o addr show dev br0)" "fd77::1/64" "the bridge's IPv6"
assert_eq "default via fd77::1 dev eth0 metric 1024 pref medium" \
  "$(ip -n "$(kit_node_netns n1)" -6 route show default | xargs)" "n1's IPv6 default route"
assert_eq 1 "$(kit_node_exec n1 sysctl -n net.ipv6.conf.all.forwarding)" "IPv6 forwarding in n1"
assert_ok "n1 -> n2 over IPv6" kit_node_exec n1 ping -6 -c 2 -i 0.2 -W 2 fd77::12
assert_ok "n2 -> n1 over IPv6" kit_node_exec n2 ping -6 -c 2 -i 0.2 -W 2 fd77::11
assert_ok "n2 -> bridge over IPv6" kit_node_exec n2 ping -6 -c 1 -W 2 fd77::1
assert_ok "n1 -> n2 over IPv4 still" kit_node_exec n1 ping -c 1 -W 2 "$(kit_node_ip n2)"
pass "dual-stack underlay: addresses, routes, both families between nodes"

# --- a host on the underlay with an IPv6 address, and a rebooted node keeps its IPv6
kit_underlay_host h 192.168.77.200 fd77::200
assert_ok "underlay host -> n1 over IPv6" kit_pod_exec h ping -6 -c 1 -W 2 fd77::11
mac_n2=$(ip -n "$(kit_node_netns n2)" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*')
kit_node_reboot n2
assert_eq fd77::12/64 "$(global6 "$(kit_node_netns n2)")" "n2's eth0 after a reboot"
assert_eq "$mac_n2" "$(ip -n "$(kit_node_netns n2)" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*')" \
  "n2's eth0 keeps its MAC across the reboot (as a NIC does)"
assert_ok "n1 -> rebooted n2 over IPv6" kit_node_exec n1 ping -6 -c 2 -i 0.2 -W 2 fd77::12
pass "underlay host and reboot keep the IPv6 half"
