#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/network_config.h"
#include "common/ip.h"

namespace shuttle::agent {

// What a node publishes in its lease (flannel's lease.LeaseAttrs with vxlan BackendData and,
// dual-stack, PublicIPv6 and BackendV6Data).
struct LeaseAttrs {
    IpAddress public_ip;  // 0.0.0.0 on an IPv6-only node, as flannel's zero ip.IP4
    std::string backend_type;
    int vni = 0;
    std::optional<MacAddress> vtep_mac;
    std::optional<IpAddress> public_ipv6;
    int vni_v6 = 0;
    std::optional<MacAddress> vtep_mac_v6;
};

// The IPv6 half of a lease value: PublicIPv6 and BackendV6Data's VtepMAC (the VNI is the
// IPv4 one, as flannel's vxlan backend writes it).
struct LeaseV6 {
    IpAddress public_ipv6;
    MacAddress vtep_mac;
};

// flannel's exact bytes (encoding/json of lease.LeaseAttrs, fields in declaration order,
// BackendData and BackendV6Data omitted when empty):
// {"PublicIP":"…","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"…"}}
// dual-stack: …,"PublicIPv6":"fd00::1",…,"BackendV6Data":{"VNI":1,"VtepMAC":"…"}}
// IPv6-only (no vtep_mac): {"PublicIP":"0.0.0.0","PublicIPv6":"…","BackendType":"vxlan",
// "BackendV6Data":{…}}
std::string format_lease_value(const IpAddress& public_ip, int vni,
                               const std::optional<MacAddress>& vtep_mac,
                               const std::optional<LeaseV6>& v6 = std::nullopt);

// Tolerant of anything a peer may have written: nullopt unless it is a JSON object with a
// valid IPv4 PublicIP. A missing or bad VtepMAC (or PublicIPv6, BackendV6Data) leaves that
// field empty.
std::optional<LeaseAttrs> parse_lease_value(std::string_view text);

// The last part of a lease key (flannel's MakeSubnetKey / ParseSubnetKey):
// "10.244.1.0-24", dual-stack "10.244.1.0-24&fd00:10:244:1::-64", IPv6-only
// "0.0.0.0-0&fd00:10:244:1::-64".
struct SubnetKey {
    IpPrefix ipv4;
    std::optional<IpPrefix> ipv6;
    auto operator<=>(const SubnetKey&) const = default;
};
std::string subnet_key_name(const IpPrefix& subnet,
                            const std::optional<IpPrefix>& ipv6_subnet = std::nullopt);
std::optional<SubnetKey> parse_subnet_key(std::string_view name);
// The IPv4 part only.
std::optional<IpPrefix> parse_subnet_key_name(std::string_view name);

// flannel's compatibility rule: SubnetLen long, address within SubnetMin..SubnetMax.
bool subnet_fits(const NetworkConfig& config, const IpPrefix& subnet);
// The IPv6 half (isIPv6SubnetConfigCompat): without EnableIPv6 there must be none, with it
// one IPv6SubnetLen long within IPv6SubnetMin..IPv6SubnetMax.
bool ipv6_subnet_fits(const NetworkConfig& config, const std::optional<IpPrefix>& subnet);

// The subnets between SubnetMin and SubnetMax that are not taken, lowest first, at most limit
// (flannel picks at random among the first 100 free ones).
std::vector<IpPrefix> free_subnets(const NetworkConfig& config, const std::set<IpPrefix>& taken,
                                   size_t limit = 100);
// The same between IPv6SubnetMin and IPv6SubnetMax.
std::vector<IpPrefix> free_ipv6_subnets(const NetworkConfig& config,
                                        const std::set<IpPrefix>& taken, size_t limit = 100);

// A random locally administered unicast MAC.
MacAddress random_vtep_mac();

}  // namespace shuttle::agent
