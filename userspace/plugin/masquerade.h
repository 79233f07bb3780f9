#pragma once

#include <string>

#include "common/ip.h"
#include "plugin/network.h"

namespace shuttle::plugin {

// The plugin's own masquerade (Network::masquerade: ipMasq true and FLANNEL_IPMASQ false):
// flannel's rules in the node netns's nftables table `ip shuttle`, for the node subnet
// (FLANNEL_SUBNET, else the pod address's network) and the cluster network (FLANNEL_NETWORK,
// else the node subnet). One table per node, shared by every pod: DEL leaves it.
// Failures are cni::Error kInternal.
void ensure_masquerade(const Network& net, const IpPrefix& pod_address);
// "" when the table holds exactly those rules, else what is wrong.
std::string check_masquerade(const Network& net, const IpPrefix& pod_address);

}  // namespace shuttle::plugin
