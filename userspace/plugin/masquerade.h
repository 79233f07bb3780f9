#pragma once

#include <string>
#include <vector>

#include "common/ip.h"
#include "plugin/network.h"

namespace shuttle::plugin {

// The plugin's own masquerade (Network::masquerade: ipMasq true and FLANNEL_IPMASQ false):
// flannel's rules in the node netns's nftables table `ip shuttle`, for the node subnet
// (FLANNEL_SUBNET, else the pod address's network) and the cluster network (FLANNEL_NETWORK,
// else the node subnet). One table per node, shared by every pod: DEL leaves it.
// `pod_addresses` are the pod's addresses; the IPv4 one picks the rules.
// Failures are cni::Error kInternal.
void ensure_masquerade(const Network& net, const std::vector<IpPrefix>& pod_addresses);
// "" when the table holds exactly those rules, else what is wrong.
std::string check_masquerade(const Network& net, const std::vector<IpPrefix>& pod_addresses);

}  // namespace shuttle::plugin
