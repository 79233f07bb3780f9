#!/usr/bin/env bash
# kit_cni runs a CNI plugin inside a node exactly as a runtime would, and each node keeps
# its own plugin state: Debian's bridge + host-local wire two pods on node n1 that reach
# each other; n2 allocates from its own store; errors come back as exit code + JSON.
set -euo pipefail
source_dir=${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$source_dir/tools/cluster/kit.sh"
source "$source_dir/tools/cluster/assert.sh"

kit_cluster_up 2
n1=$(kit_node_netns n1)
conf=$(kit_run_dir)/bridge.conf
cat >"$conf" <<'JSON'
{"cniVersion": "1.0.0", "name": "kitnet", "type": "bridge", "bridge": "cni0",
 "isGateway": true, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24"}}
JSON

kit_pod_add a
kit_pod_add b
out_a=$(kit_cni n1 ADD ctr-a a eth0 "$conf")
assert_eq 10.244.1.2/24 "$(jq -r '.ips[0].address' <<<"$out_a")" "first pod's address"
out_b=$(kit_cni n1 ADD ctr-b b eth0 "$conf")
assert_eq 10.244.1.3/24 "$(jq -r '.ips[0].address' <<<"$out_b")" "second pod's address"
assert_contains "$(kit_pod_exec a ip -o addr show eth0)" 10.244.1.2/24 "pod a's eth0 configured"
assert_ok "cni0 exists in n1" ip -n "$n1" link show cni0
assert_fails "cni0 not in n2" ip -n "$(kit_node_netns n2)" link show cni0
assert_fails "cni0 not in the root namespace" ip link show cni0
assert_ok "pod a -> pod b" kit_pod_exec a ping -c 2 -i 0.2 -W 2 10.244.1.3
pass "bridge plugin wires pods inside n1"

# host-local's store lives in the node's private /var/lib/cni.
assert_eq ctr-a "$(kit_node_exec n1 head -n1 /var/lib/cni/networks/kitnet/10.244.1.2 | tr -d '\r')" \
  "host-local reservation in n1's store"
assert_absent /var/lib/cni/networks/kitnet "no store in the root mount namespace"
kit_pod_add c
out_c=$(kit_cni n2 ADD ctr-c c eth0 "$conf")
assert_eq 10.244.1.2/24 "$(jq -r '.ips[0].address' <<<"$out_c")" "n2 allocates from its own store"
pass "each node has its own IPAM store"

# Config on stdin, extra env, and the plugin's exit code + error JSON.
status=0
err=$(kit_cni n1 ADD ctr-x /run/netns/kit-no-such-netns eth0 - CNI_ARGS=IgnoreUnknown=1 <"$conf") || status=$?
assert_ne 0 "$status" "ADD into a missing netns fails"
assert_contains "$err" '"code"' "error object on stdout"
kit_cni n1 DEL ctr-a a eth0 "$conf" >/dev/null
assert_fails "reservation released by DEL" kit_node_exec n1 test -e /var/lib/cni/networks/kitnet/10.244.1.2
assert_ok "DEL with an empty netns succeeds" kit_cni n1 DEL ctr-b "" eth0 "$conf"
pass "kit_cni passes config, env and exit codes through"
