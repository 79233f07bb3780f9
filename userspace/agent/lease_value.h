#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/network_config.h"
#include "common/ip.h"

namespace shuttle::agent {

// What a node publishes in its lease (flannel's lease.LeaseAttrs with vxlan BackendData).
struct LeaseAttrs {
    IpAddress public_ip;
    std::string backend_type;
    int vni = 0;
    std::optional<MacAddress> vtep_mac;
};

// flannel's exact bytes:
// {"PublicIP":"…","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"…"}}
std::string format_lease_value(const IpAddress& public_ip, int vni, const MacAddress& vtep_mac);

// Tolerant of anything a peer may have written: nullopt unless it is a JSON object with a
// valid IPv4 PublicIP. A missing or bad VtepMAC leaves vtep_mac empty.
std::optional<LeaseAttrs> parse_lease_value(std::string_view text);

// The last part of a lease key: 10.244.1.0/24 <-> "10.244.1.0-24" (a dual-stack suffix
// "&fd00::-64" is accepted and ignored when parsing).
std::string subnet_key_name(const IpPrefix& subnet);
std::optional<IpPrefix> parse_subnet_key_name(std::string_view name);

// flannel's compatibility rule: SubnetLen long, address within SubnetMin..SubnetMax.
bool subnet_fits(const NetworkConfig& config, const IpPrefix& subnet);

// The subnets between SubnetMin and SubnetMax that are not taken, lowest first, at most limit
// (flannel picks at random among the first 100 free ones).
std::vector<IpPrefix> free_subnets(const NetworkConfig& config, const std::set<IpPrefix>& taken,
                                   size_t limit = 100);

// A random locally administered unicast MAC.
MacAddress random_vtep_mac();

}  // namespace shuttle::agent
