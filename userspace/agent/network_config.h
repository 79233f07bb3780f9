#pragma once

#include <string>

#include "common/ip.h"

namespace shuttle::agent {

// flannel's network config (the JSON at <prefix>/config), after flannel's defaults.
// IPv4-only (the default), dual-stack (EnableIPv6) or IPv6-only (EnableIPv4 false: the IPv4
// fields are then 0.0.0.0/0, length 0, as flannel's empty IP4Net, and its leases' keys start
// with "0.0.0.0-0&").
struct NetworkConfig {
    bool enable_ipv4 = true;
    bool enable_ipv6 = false;
    IpPrefix network;      // Network, host bits cleared
    int subnet_len = 24;   // SubnetLen
    IpAddress subnet_min;  // SubnetMin: first leasable subnet address
    IpAddress subnet_max;  // SubnetMax: last leasable subnet address
    // When enable_ipv6: IPv6Network, IPv6SubnetLen (default 64), IPv6SubnetMin/Max.
    IpPrefix ipv6_network;
    int ipv6_subnet_len = 0;
    IpAddress ipv6_subnet_min;
    IpAddress ipv6_subnet_max;
    std::string backend_type = "vxlan";
    int vni = 1;      // Backend.VNI
    int port = 8472;  // Backend.Port (0 in the config = the kernel's default, 8472)
};

// Parses and validates as flannel does (Go's JSON: keys match case-insensitively, an exact
// match wins). Throws std::invalid_argument whose message starts with the field's name,
// e.g. "SubnetMin: 10.9.0.0 is not in Network 10.244.0.0/16".
NetworkConfig parse_network_config(const std::string& json_text);

}  // namespace shuttle::agent
