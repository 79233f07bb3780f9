#pragma once

// Migration from flannel: pods that flannel's bridge plugin wired to cni0 are moved onto
// shuttle's datapath without restarting them.
//
// For each address reserved in flannel's host-local store (<ipam_dir>/<network>/<ip>), the
// pod's MAC comes from cni0's neighbour table (a datagram to the address makes the kernel
// ARP for it) and its veth from the bridge's learned FDB entry. Each such veth leaves cni0,
// takes cni0's MAC (the pod's ARP cache still names it for the gateway, so nothing in the
// pod goes stale), gets what the shuttle plugin gives a host veth (gateway /32, proxy_arp,
// proxy_delay 0, <pod>/32 route), is attached to the datapath, and gets the plugin's
// attachment record so that a later CNI DEL through shuttle removes it; flannel's delegate
// file /var/lib/cni/flannel/<container id> goes (DEL no longer reaches flannel's plugin). cni0 is
// deleted when no port is left on it.
//
// On a dual-stack network (node_subnet6 set) the pod's IPv6 reservation (same container id
// and ifname, inside node_subnet6) comes along: the host veth also gets the IPv6 gateway as
// /128 (no DAD, no RAs), a <pod>/128 route, the endpoint and record its IPv6 address and
// gateway; the node's IPv6 config (node_config6) is written first, as the plugin's first
// dual-stack ADD would, so the programs answer the pod's neighbour solicitations for the
// rest of its on-link /64 (the bridge plugin gave it one).

#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "datapath/datapath.h"
#include "netlink/socket.h"

namespace shuttle::agent {

struct AdoptOptions {
    std::string bridge = "cni0";
    std::string network = "cbr0";  // flannel's conflist name = the host-local store folder
    std::string ipam_dir = "/var/lib/cni/networks";
    std::string state_dir = "/var/lib/cni/shuttle/cbr0";        // the plugin's records
    std::string flannel_delegate_dir = "/var/lib/cni/flannel";  // removed per adopted pod
    IpPrefix node_subnet;                                       // the lease
    std::optional<IpPrefix> node_subnet6;  // the lease's IPv6 half (dual-stack networks)
    IpPrefix cluster_network6;             // the config's IPv6Network, with node_subnet6
};

// Returns one line per adopted pod (and one when cni0 was deleted); nothing when there is
// no cni0. Pods whose MAC or veth cannot be found are left on cni0 and named in a line.
std::vector<std::string> adopt_flannel_pods(netlink::Socket& socket, datapath::Node& node,
                                            const AdoptOptions& options);

}  // namespace shuttle::agent
