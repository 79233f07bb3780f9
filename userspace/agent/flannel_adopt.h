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
};

// Returns one line per adopted pod (and one when cni0 was deleted); nothing when there is
// no cni0. Pods whose MAC or veth cannot be found are left on cni0 and named in a line.
std::vector<std::string> adopt_flannel_pods(netlink::Socket& socket, datapath::Node& node,
                                            const AdoptOptions& options);

}  // namespace shuttle::agent
