#!/usr/bin/env bash
# The security review's claims on real nodes (docs/ARCHITECTURE.md, "Security review"):
#   (c) a pin root another user made first is refused; with umask 000 in shuttled and in the
#       plugin, pins are 0600 in 0700 directories, the IP store's and the records' files
#       0600 (directories 0755), subnet.env and the conflist 0644, nothing writable by others
#   (d) shuttled's health server on its default address only (127.0.0.1:9465): /healthz and
#       /readyz answer, other paths 404, pods cannot reach it; a client that trickles its
#       request is cut off and the next probe is answered
#   (a) a pod reaches the node and the other node's underlay address (the host network, as
#       with any CNI), but not the node's 127.0.0.1 (a martian to the node's stack), cannot
#       send from an address it does not hold (spoofed-ip), and cannot send VXLAN to a node
#       (tunnel-from-pod): masqueraded to its node's address (n1 runs --ip-masq) it would
#       pass the other node's sender check; the same datagram from the node itself (what a
#       host holding a node's address can do) is delivered
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"
pod_frames=$source_dir/tests/support/pod_frames.py

agent_cluster_up 2

# --- (c) a pin root made by another user first --------------------------------------------
kit_node_exec n2 sh -c 'mkdir /sys/fs/bpf/shuttle && chown 65534:65534 /sys/fs/bpf/shuttle'
set +e
out=$(kit_node_exec n2 timeout 60 "$bin/shuttled" --etcd-endpoints "$(kit_etcd_endpoint)" \
  --iface eth0 --healthz-addr 127.0.0.1:0 2>&1)
code=$?
set -e
assert_eq 1 "$code" "shuttled refuses a pin root owned by uid 65534 (exit 1)"
assert_contains "$out" "/sys/fs/bpf/shuttle belongs to uid 65534" "and says why"
kit_node_exec n2 rmdir /sys/fs/bpf/shuttle
pass "a pin root another user made first is refused"

# --- shuttled and a pod under umask 000 -----------------------------------------------------
kit_node_spawn n1 "$(kit_run_dir)/shuttled-n1.log" sh -c 'umask 000 && exec "$0" "$@"' \
  "$bin/shuttled" --etcd-endpoints "$(kit_etcd_endpoint)" --iface eth0 --ip-masq
start_shuttled n2
wait_ready n1
wait_ready n2
kit_pod_add p1
out=$(umask 000 && kit_cni n1 ADD ctr-p1 p1 eth0 "$POD_CONF") || fail "ADD p1: $out"
ip1=$(jq -r '.ips[0].address' <<<"$out" | cut -d/ -f1)
ip2=$(add_pod n2 p2)
wait_until 10 "p1 -> p2 across nodes" pod_ping p1 "$ip2" 1

# --- (c) file modes --------------------------------------------------------------------------
# odd <node> <find args...>: "mode owner type path" of each file find selects.
odd() { kit_node_exec "$1" find "${@:2}" -printf '%m %u %y %p\n'; }
pins=$(kit_node_exec n1 find /sys/fs/bpf/shuttle -printf '%m %u %y\n' | sort | uniq -c)
echo "$pins"
assert_eq "" "$(odd n1 /sys/fs/bpf/shuttle \( -type d ! -perm 0700 \) -o \( ! -type d ! -perm 0600 \) -o ! -user root)" \
  "every pin 0600, every pin directory 0700, all root's"
assert_contains "$pins" "600 root f" "pins were checked"
assert_contains "$(odd n1 /sys/fs/bpf/shuttle/v1/maps -name endpoints)" "600 root f" "the endpoints map's pin"
assert_fails "uid 65534 opens the endpoints map's pin" kit_node_exec n1 setpriv --reuid 65534 \
  --regid 65534 --clear-groups bpftool map show pinned /sys/fs/bpf/shuttle/v1/maps/endpoints
assert_ok "root does" kit_node_exec n1 bpftool map show pinned /sys/fs/bpf/shuttle/v1/maps/endpoints
assert_eq "" "$(odd n1 /var/lib/cni \( -type d ! -perm 0755 \) -o \( -type f ! -perm 0600 \) -o ! -user root)" \
  "the IP store and the records: files 0600, directories 0755, all root's"
store=$(odd n1 /var/lib/cni/networks/cbr0)
echo "$store"
assert_contains "$store" "600 root f /var/lib/cni/networks/cbr0/$ip1" "p1's reservation"
assert_contains "$store" "600 root f /var/lib/cni/networks/cbr0/last_reserved_ip.0" "last_reserved_ip"
assert_contains "$(odd n1 /var/lib/cni/shuttle)" "600 root f /var/lib/cni/shuttle/cbr0/ctr-p1-eth0.json" "p1's record"
assert_eq "644 root f /run/flannel/subnet.env
644 root f /run/flannel/subnet.env.lock
755 root d /run/flannel" "$(odd n1 /run/flannel | sort)" "subnet.env and shuttled's instance lock 0644 in a 0755 directory"
assert_eq "644 root f /etc/cni/net.d/10-shuttle.conflist" "$(odd n1 /etc/cni/net.d/10-shuttle.conflist)" "the conflist 0644"
pass "modes under umask 000: pins 0600/0700, store and records 0600/0755, subnet.env and conflist 0644"

# --- (d) the health server -------------------------------------------------------------------
listening=$(kit_node_exec n1 ss -Hltn 'sport = :9465' | awk '{print $4}')
assert_eq "127.0.0.1:9465" "$listening" "shuttled listens on 127.0.0.1:9465 only"
assert_eq 1 "$(kit_node_exec n1 ss -Hltnp | grep -c '"shuttled"')" "and nowhere else"
code_of() { kit_node_exec n1 curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:9465$1"; }
assert_eq "ok" "$(kit_node_exec n1 curl -s --max-time 5 http://127.0.0.1:9465/healthz)" "/healthz"
assert_eq 200 "$(code_of /readyz)" "/readyz"
for path in / /metrics /debug/pprof /healthz/ /readyz?verbose; do
  assert_eq 404 "$(code_of "$path")" "$path is not served"
done
gw1=$(kit_pod_exec p1 ip -4 route show default | awk '{print $3}')
for target in "$(kit_node_ip n1)" "$gw1"; do
  assert_fails "p1 reaches n1's health port at $target" kit_pod_exec p1 curl -s --max-time 3 "http://$target:9465/healthz"
done
assert_fails "p2 reaches n1's health port" kit_pod_exec p2 curl -s --max-time 3 "http://$(kit_node_ip n1):9465/healthz"
trickle=$(kit_node_exec n1 "$py" "$pod_frames" trickle --host 127.0.0.1 --port 9465 --gap 0.3 --seconds 20)
assert_contains "$trickle" "closed after" "a trickling client is cut off before its request line ends"
echo "trickle: $trickle"
assert_eq "ok" "$(kit_node_exec n1 curl -s --max-time 5 http://127.0.0.1:9465/healthz)" "the next probe is answered"
pass "health: 127.0.0.1:9465 only, /healthz and /readyz, 404 elsewhere, not from pods, no trickling"

# --- (a) what a pod can send ----------------------------------------------------------------
assert_ok "p1 -> n1's underlay address (the host)" pod_ping p1 "$(kit_node_ip n1)"
before=$(stat_count n2 pass not-local)
assert_ok "p2 -> n1's underlay address (another node)" pod_ping p2 "$(kit_node_ip n1)"
(($(stat_count n2 pass not-local) > before)) || fail "n2 did not count p2's packets not-local"
pass "pods reach their node and other nodes' underlay addresses through the host stack"

# A source the pod does not hold: dropped spoofed-ip.
sub1=${ip1%.*}
kit_pod_exec p1 ip addr add "$sub1.77/32" dev eth0
before=$(stat_count n1 drop spoofed-ip)
assert_fails "p1 pings p2 from $sub1.77" kit_pod_exec p1 ping -c 2 -i 0.2 -W 1 -I "$sub1.77" "$ip2"
(($(stat_count n1 drop spoofed-ip) >= before + 2)) || fail "spoofed-ip did not rise by 2"
kit_pod_exec p1 ip addr del "$sub1.77/32" dev eth0
pass "a source address the pod does not hold is dropped, counted spoofed-ip"

# UDP to n1's 127.0.0.1 (an AF_PACKET frame: the pod's own routing keeps 127/8 at home) and,
# the control, the same datagram to n1's underlay address.
host_mac=$(kit_pod_exec p1 ip -j neigh show dev eth0 | jq -r --arg gw "$gw1" '.[] | select(.dst == $gw) | .lladdr')
[[ $host_mac =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || fail "no gateway MAC in p1: $host_mac"
listen_log=$(kit_run_dir)/node-listen.log
kit_node_spawn n1 "$listen_log" "$py" -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7777))
print("listening", flush=True)
while True:
    data, peer = s.recvfrom(2048)
    print(data.decode(), peer[0], flush=True)
    if data == b"control":
        break'
listener=$KIT_LAST_PID
wait_until 10 "node listener up" grep -q listening "$listen_log"
for dst in 127.0.0.1 "$(kit_node_ip n1)"; do
  payload=loopback
  [[ $dst == 127.0.0.1 ]] || payload=control
  kit_pod_exec p1 "$py" "$pod_frames" udp --iface eth0 --dst-mac "$host_mac" --src "$ip1" \
    --dst "$dst" --dport 7777 --payload "$payload"
done
wait_until 10 "the control datagram reached n1" grep -q '^control' "$listen_log"
assert_eq "listening
control $ip1" "$(cat "$listen_log")" "n1's stack took the control, not the datagram to 127.0.0.1"
kit_stop "$listener"
pass "a pod's packet to the node's 127.0.0.1 is not delivered (route_localnet=0)"

# VXLAN to n2 from pod p1 with an inner source of n1's subnet: n1 masquerades p1's traffic
# to n2's underlay address, so without the check n2 would see n1 as the sender.
vtep2=$(kit_node_exec n2 cat /sys/class/net/shuttle.1/address)
listen_log=$(kit_run_dir)/pod-listen.log
kit_pod_spawn p2 "$listen_log" "$py" "$frames_py" listen --ip "$ip2" --seconds 60 --until valid
listener=$KIT_LAST_PID
wait_until 10 "p2's listener up" grep -q listening "$listen_log"
before=$(stat_count n1 drop tunnel-from-pod)
kit_pod_exec p1 "$py" "$frames_py" send --to "$(kit_node_ip n2)" --inner-dst-mac "$vtep2" \
  --inner-src "$sub1.77" --inner-dst "$ip2" --payload "from-pod" --count 3
wait_until 10 "n1 counts tunnel-from-pod" eval '(( $(stat_count n1 drop tunnel-from-pod) >= before + 3 ))'
# The control: node n1 itself sends the same (its own address, an inner source of its subnet).
kit_node_exec n1 "$py" "$frames_py" send --to "$(kit_node_ip n2)" --inner-dst-mac "$vtep2" \
  --inner-src "$sub1.77" --inner-dst "$ip2" --payload valid
wait "$listener" || true
assert_eq "listening
valid" "$(cat "$listen_log")" "p2 got the node's datagram and none of the pod's"
pass "a pod's VXLAN to another node is dropped (tunnel-from-pod); a node's own is delivered"
assert_contains "$(kit_node_exec n1 "$bin/shuttlectl" stats)" "tunnel-from-pod" "shuttlectl stats names it"

# --- (b) the limit of the tunnel checks: the outer source is only a claim ---------------------
# A host on the underlay's L2 that is not a node sends with n1's address as the outer source
# and an address of n1's subnet as the inner one: n2 cannot tell it from n1 and delivers it.
kit_underlay_host forger "$KIT_UNDERLAY_NET.99"
n2_mac=$(kit_node_exec n2 cat /sys/class/net/eth0/address)
listen_log=$(kit_run_dir)/pod-listen-forged.log
kit_pod_spawn p2 "$listen_log" "$py" "$frames_py" listen --ip "$ip2" --seconds 60 --until forged-by-host
listener=$KIT_LAST_PID
wait_until 10 "p2's listener up" grep -q listening "$listen_log"
before=$(($(stat_count n2 drop unknown-node) + $(stat_count n2 drop forged-inner-src)))
kit_pod_exec forger "$py" "$pod_frames" udp --iface eth0 --dst-mac "$n2_mac" \
  --src "$(kit_node_ip n1)" --dst "$(kit_node_ip n2)" --dport 8472 --payload forged-by-host \
  --vxlan-inner-dst-mac "$vtep2" --vxlan-inner-src "$sub1.77" --vxlan-inner-dst "$ip2"
wait "$listener" || true
assert_eq "listening
forged-by-host" "$(cat "$listen_log")" "a forged outer source of a node's address is delivered (known limit)"
assert_eq "$before" "$(($(stat_count n2 drop unknown-node) + $(stat_count n2 drop forged-inner-src)))" \
  "and no check counted it"
pass "known limit: a host forging a node's underlay address and that node's pod addresses gets through"
