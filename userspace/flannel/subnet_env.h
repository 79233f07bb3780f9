#pragma once

#include <optional>
#include <string>

#include "common/ip.h"

namespace shuttle::flannel {

// flannel's /run/flannel/subnet.env, the contract between the node agent and the plugin.
// IPv4-only, dual-stack (the IPv6 lines too) or IPv6-only (no FLANNEL_NETWORK/FLANNEL_SUBNET:
// `network` and `subnet` are then empty, family 0).
struct SubnetEnv {
    IpPrefix network;  // FLANNEL_NETWORK, e.g. 10.244.0.0/16
    IpPrefix subnet;   // FLANNEL_SUBNET: first usable address with the lease length, 10.244.1.1/24
    int mtu = 0;       // FLANNEL_MTU
    bool ip_masq = false;                  // FLANNEL_IPMASQ: true when the agent masquerades
    std::optional<IpPrefix> ipv6_network;  // FLANNEL_IPV6_NETWORK, e.g. fd00:10:244::/56
    std::optional<IpPrefix> ipv6_subnet;   // FLANNEL_IPV6_SUBNET: fd00:10:244:1::1/64

    bool has_ipv4() const { return !subnet.address.empty(); }
    // The lease itself: 10.244.1.0/24.
    IpPrefix subnet_network() const { return subnet.network(); }
    std::optional<IpPrefix> ipv6_subnet_network() const {
        return ipv6_subnet ? std::optional<IpPrefix>(ipv6_subnet->network()) : std::nullopt;
    }
};

// Parses the file's text as flannel's CNI plugin does: a network and a subnet of at least
// one family, MTU and IPMASQ. Throws std::invalid_argument naming the missing or bad key.
SubnetEnv parse_subnet_env(const std::string& text);

// Reads and parses a file. Returns nullopt when the file does not exist; throws on other errors.
std::optional<SubnetEnv> read_subnet_env(const std::string& path);

// flannel's format (WriteSubnetFile): NETWORK, SUBNET (when IPv4), IPV6_NETWORK, IPV6_SUBNET
// (when IPv6), MTU, IPMASQ, one per line, '\n' endings.
std::string format_subnet_env(const SubnetEnv& env);

// Writes atomically (temporary file in the same folder, fsync, rename), mode 0644.
void write_subnet_env(const std::string& path, const SubnetEnv& env);

}  // namespace shuttle::flannel
