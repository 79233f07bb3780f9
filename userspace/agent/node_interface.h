#pragma once

#include <optional>
#include <string>

#include "common/ip.h"

namespace shuttle::agent {

// The underlay interface: its first IPv4 address (the lease's PublicIP), its first global
// IPv6 address (PublicIPv6 with EnableIPv6; link-local ones do not count) and its MTU.
struct NodeInterface {
    std::string name;
    IpAddress ipv4;
    int mtu = 0;
    std::optional<IpAddress> ipv6;
};

// Reads the interface's addresses (getifaddrs) and MTU (/sys/class/net/<name>/mtu).
// Throws std::runtime_error when it does not exist or has no IPv4 address.
NodeInterface interface_by_name(const std::string& name);

// The interface holding address, if any.
std::optional<NodeInterface> interface_with_address(const IpAddress& address);

// The interface of the IPv4 default route (/proc/net/route), as flanneld picks it by default.
NodeInterface default_route_interface();

}  // namespace shuttle::agent
