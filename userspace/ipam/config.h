#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cni/result.h"
#include "common/ip.h"

namespace shuttle::ipam {

inline constexpr const char* kDefaultDataDir = "/var/lib/cni/networks";

// One pool of host-local's config, canonicalized: start, end and gateway always set.
struct Range {
    IpPrefix subnet;  // network address, no host bits
    IpAddress start;
    IpAddress end;
    IpAddress gateway;
    bool contains(const IpAddress& ip) const;
    std::string str() const;  // "10.244.1.2-10.244.1.254"
};

// The outer list of host-local's "ranges": one address is allocated per range set.
using RangeSet = std::vector<Range>;
std::string range_set_str(const RangeSet& set);

// host-local's IPAM config.
struct Config {
    std::string type;
    std::vector<RangeSet> range_sets;
    std::vector<cni::Route> routes;
    std::string data_dir = kDefaultDataDir;
    std::string resolv_conf;
};

// Parses the "ipam" object in host-local's format: ranges, or the legacy subnet/rangeStart/
// rangeEnd/gateway keys (prepended as a range set), routes, dataDir, resolvConf.
// IPv4 and IPv6 ranges; each range set holds one family (host-local's rule).
// Throws cni::Error kInvalidConfig naming the field ("ipam.ranges[0][0].subnet").
Config parse_config(const nlohmann::json& ipam);

// Builds one range from a subnet and optional bounds; `field` names it in errors.
Range make_range(const IpPrefix& subnet, const std::string& start, const std::string& end,
                 const std::string& gateway, const std::string& field);

// resolv.conf text -> DNS (nameserver, domain, search, options lines).
cni::Dns parse_resolv_conf(const std::string& text);

}  // namespace shuttle::ipam
