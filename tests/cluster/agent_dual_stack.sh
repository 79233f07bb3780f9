#!/usr/bin/env bash
# A dual-stack cluster (flannel's EnableIPv6 config) with shuttled in every node of the kit:
# each node leases both families in one key, subnet.env carries the IPv6 lines, the plugin
# (subnetFile) gives pods one address per family, pods of one node ping each other and the
# node over both families, IPv4 still crosses nodes, the IPv6 masquerade table is installed,
# repaired and uninstalled; after uninstall IPv6 pods of one node keep talking (host routing).
# The underlay is dual-stack too (the kit's): n1 names its IPv6 with --public-ipv6, n2's
# shuttled finds it on eth0.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

agent_cluster_up 2 '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}'
kit_underlay_dual_stack # eth0: fd77::11 (n1), fd77::12 (n2)
start_shuttled n1 --ip-masq --public-ipv6 fd77::11
start_shuttled n2
wait_ready n1
wait_ready n2

# --- leases: one key per node with both families, flannel's value, subnet.env ---------------
keys=$(kit_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | sed '/^$/d' | sort)
assert_eq 2 "$(wc -l <<<"$keys")" "one lease key per node"
for i in 1 2; do
  env=$(kit_node_exec "n$i" cat /run/flannel/subnet.env)
  v4=$(sed -n 's/^FLANNEL_SUBNET=\(.*\)\.1\/24$/\1.0/p' <<<"$env")
  v6=$(sed -n 's/^FLANNEL_IPV6_SUBNET=\(.*\)::1\/64$/\1::/p' <<<"$env")
  [[ -n $v4 && -n $v6 ]] || fail "n$i subnet.env: $env"
  assert_contains "$env" "FLANNEL_IPV6_NETWORK=fd00:10:244::/56" "n$i subnet.env IPv6 network"
  value=$(kit_etcdctl get --print-value-only "/coreos.com/network/subnets/$v4-24&$v6-64")
  assert_contains "$value" "\"PublicIP\":\"$(kit_node_ip "n$i")\",\"PublicIPv6\":\"fd77::1$i\"" "n$i lease value"
  assert_contains "$value" '"BackendV6Data":{"VNI":1,"VtepMAC":"' "n$i BackendV6Data"
done
peer=$(nodes_json n1 | jq -r --arg ip "$(kit_node_ip n2)" '.[] | select(.PublicIP == $ip) | .PublicIPv6')
assert_eq fd77::12 "$peer" "n1 sees n2's IPv6 half"

# --- pods: both families, same-node ping over both, IPv4 across nodes ------------------------
a=$(add_pod n1 a)
b=$(add_pod n1 b)
c=$(add_pod n2 c)
a6=$(kit_pod_exec a ip -6 -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1)
b6=$(kit_pod_exec b ip -6 -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1)
[[ $a6 == fd00:10:244:* && $b6 == fd00:10:244:* ]] || fail "pods lack IPv6 addresses: $a6 $b6"
pod_ping a "$b" || fail "IPv4 a -> b"
pod_ping a "$b6" || fail "IPv6 a -> b"
pod_ping b "$a6" || fail "IPv6 b -> a"
kit_node_exec n1 ping -6 -c1 -W2 "$a6" >/dev/null || fail "IPv6 n1 -> a"
pod_ping a "$c" || fail "IPv4 a (n1) -> c (n2) across nodes"

# --- ip6 shuttle: installed with --ip-masq, repaired after deletion ---------------------------
v6_n1=$(kit_node_exec n1 sed -n 's/^FLANNEL_IPV6_SUBNET=\(.*\)::1\/64$/\1::\/64/p' /run/flannel/subnet.env)
table=$(kit_node_exec n1 nft list table ip6 shuttle)
assert_contains "$table" "ip6 saddr $v6_n1 ip6 daddr fd00:10:244::/56 return" "ip6 shuttle rules"
assert_contains "$(readyz n1)" "masquerade ip6: table ip6 shuttle" "/readyz names the ip6 table"
assert_fails "n2 has no ip6 table without --ip-masq" kit_node_exec n2 nft list table ip6 shuttle
kit_node_exec n1 nft delete table ip6 shuttle
wait_until 15 "ip6 shuttle repaired" kit_node_exec n1 nft list table ip6 shuttle

# --- uninstall: both tables gone, IPv6 pods of the node still talk ----------------------------
kit_stop "${SHUTTLED_PID[n1]}"
kit_node_exec n1 "$bin/shuttlectl" uninstall >/dev/null
assert_fails "ip shuttle gone" kit_node_exec n1 nft list table ip shuttle
assert_fails "ip6 shuttle gone" kit_node_exec n1 nft list table ip6 shuttle
pod_ping a "$b6" || fail "IPv6 a -> b after uninstall"
pass "dual-stack cluster: leases, subnet.env, pods over both families, ip6 masquerade, uninstall"
