#!/usr/bin/env bash
# The cluster kit builds a working two-node cluster: each node sees only its own devices
# in /sys, has its own bpffs, /run and /var/lib/cni; pods made after the node started can
# be entered from inside it; nodes reach each other and etcd over the underlay.
set -euo pipefail
source_dir=${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$source_dir/tools/cluster/kit.sh"
source "$source_dir/tools/cluster/assert.sh"

kit_cluster_up 2
id=$(kit_run_id)
n1=$(kit_node_netns n1)
n2=$(kit_node_netns n2)

# --- /sys/class/net shows the node's own devices, not the other node's.
ip -n "$n2" link add only-n2a type veth peer name only-n2b
n1_sys=$(kit_node_exec n1 ls /sys/class/net | sort | xargs)
n2_sys=$(kit_node_exec n2 ls /sys/class/net | sort | xargs)
n1_links=$(ip -n "$n1" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | xargs)
assert_eq "$n1_links" "$n1_sys" "n1's /sys/class/net must list exactly n1's links"
assert_eq "eth0 lo" "$n1_sys" "n1's devices"
assert_not_contains "$n1_sys" only-n2a "n1 must not see n2's devices"
assert_contains "$n2_sys" only-n2a "n2 sees its own devices"
assert_contains "$(kit_node_exec n1 cat /sys/class/net/eth0/address)" \
  "$(ip -n "$n1" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)" \
  "n1's /sys/class/net/eth0 is n1's eth0"
pass "/sys is per node"

# --- A bpffs on /sys/fs/bpf inside the node, invisible from the root namespace.
assert_eq bpf_fs "$(kit_node_exec n1 stat -f -c %T /sys/fs/bpf)" "n1 /sys/fs/bpf type"
node_dev=$(kit_node_exec n1 stat -c %d /sys/fs/bpf)
root_dev=$(stat -c %d /sys/fs/bpf)
assert_ne "$root_dev" "$node_dev" "node bpffs must be a different mount from the root's /sys/fs/bpf"
assert_ne "$(kit_node_exec n1 stat -c %d /sys/fs/bpf)" "$(kit_node_exec n2 stat -c %d /sys/fs/bpf)" \
  "each node has its own bpffs"
probe=kit_probe_$id
kit_node_exec n1 bpftool map create "/sys/fs/bpf/$probe" type array key 4 value 4 entries 1 name kitprobe
assert_ok "pin visible in n1" kit_node_exec n1 test -e "/sys/fs/bpf/$probe"
assert_absent "/sys/fs/bpf/$probe" "a node's pin must not appear in the root namespace"
assert_fails "pin must not appear in n2" kit_node_exec n2 test -e "/sys/fs/bpf/$probe"
node_bpffs=$(kit_node_exec n1 awk '$5 == "/sys/fs/bpf" {print $3}' /proc/self/mountinfo)
assert_ne "" "$node_bpffs" "n1's mountinfo lists its bpffs"
assert_not_contains "$(awk '{print " " $3 " "}' /proc/self/mountinfo)" " $node_bpffs " \
  "n1's bpffs ($node_bpffs) must not be mounted in the root mount namespace"
pass "bpffs is per node and hidden from the root namespace"

# --- /run and /var/lib/cni are per node.
kit_node_exec n1 sh -c "echo n1 > /run/kit-$id; mkdir -p /var/lib/cni/networks; echo n1 > /var/lib/cni/kit-$id"
assert_eq n1 "$(kit_node_exec n1 cat "/var/lib/cni/kit-$id")" "n1 keeps its /var/lib/cni"
assert_absent "/run/kit-$id" "node /run must be private"
assert_absent "/var/lib/cni/kit-$id" "node /var/lib/cni must be private"
assert_fails "n2 must not see n1's /var/lib/cni" kit_node_exec n2 test -e "/var/lib/cni/kit-$id"
assert_eq tmpfs "$(kit_node_exec n1 stat -f -c %T /var/lib/cni)" "/var/lib/cni is a tmpfs"
assert_contains "$(kit_node_exec n1 ls /opt/cni/bin)" host-local "node bin dir holds the reference plugins"
echo '{}' >"$(kit_node_conf_dir n1)/10-kit.conf"
assert_ok "conf dir visible at /etc/cni/net.d in n1" kit_node_exec n1 test -e /etc/cni/net.d/10-kit.conf
assert_fails "conf dir private to n1" kit_node_exec n2 test -e /etc/cni/net.d/10-kit.conf
pass "/run, /var/lib/cni and CNI dirs are per node"

# --- A pod netns made after the node started can be entered from inside the node.
kit_pod_add a
pod=$(kit_pod_netns a)
assert_contains "$(kit_node_exec n1 ls /run/netns)" "$pod" "pod netns listed in n1's /run/netns"
assert_contains "$(kit_node_exec n1 nsenter --net="/run/netns/$pod" ip -o link show lo)" "LOOPBACK,UP" \
  "entering the pod from n1"
# What a CNI plugin does: create a veth in the node and move one end into the pod by path.
kit_node_exec n1 ip link add kitpod0 type veth peer name kitpod1
kit_node_exec n1 ip link set kitpod1 netns "$pod"
assert_ok "veth end moved from n1 into the pod" ip -n "$pod" link show kitpod1
assert_fails "moved end left n1" ip -n "$n1" link show kitpod1
pass "pods created later are reachable from inside the node"

# --- Underlay connectivity.
assert_ok "n1 -> n2 ping" kit_node_exec n1 ping -c 2 -i 0.2 -W 2 "$(kit_node_ip n2)"
assert_ok "n2 -> n1 ping" kit_node_exec n2 ping -c 2 -i 0.2 -W 2 "$(kit_node_ip n1)"
assert_eq "default via $KIT_UNDERLAY_BRIDGE_IP dev eth0" "$(ip -n "$n1" route show default | xargs)" \
  "node default route on the underlay"
pass "nodes reach each other over the underlay"

# --- etcd in the underlay, reachable from every node.
kit_etcd_start
endpoint=$(kit_etcd_endpoint)
assert_contains "$endpoint" "$KIT_UNDERLAY_BRIDGE_IP" "etcd listens on the underlay bridge address"
for node in n1 n2; do
  assert_eq '{"health":"true"}' "$(kit_node_exec "$node" curl -s --max-time 2 "$endpoint/health" | tr -d '\n')" \
    "etcd /health from $node"
done
kit_node_exec n1 ETCDCTL_API=3 etcdctl --endpoints="$endpoint" put /kit/probe "from-n1" >/dev/null
assert_eq from-n1 "$(kit_node_exec n2 ETCDCTL_API=3 etcdctl --endpoints="$endpoint" get --print-value-only /kit/probe)" \
  "a key written from n1 is read from n2"
assert_eq from-n1 "$(kit_etcdctl get --print-value-only /kit/probe)" "kit_etcdctl reads it"
etcd_pid=$(kit_etcd_pid)
kit_etcd_stop
assert_fails "etcd stopped by PID" kill -0 "$etcd_pid"
assert_fails "etcd no longer answers" kit_node_exec n1 curl -sf --max-time 1 "$endpoint/health"
pass "etcd answers every node and stops by PID"
