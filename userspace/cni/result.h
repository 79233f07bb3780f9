#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/ip.h"

namespace shuttle::cni {

// The 1.1.0 result model; older versions are rendered from it.
struct Interface {
    std::string name;
    std::string mac;
    std::optional<int> mtu;  // 1.1.0 only
    std::string sandbox;     // netns path; empty on the host
    std::string socket_path;
    std::string pci_id;
};

struct IpConfig {
    IpPrefix address;  // with host bits: 10.244.1.5/24
    std::optional<IpAddress> gateway;
    std::optional<int> interface;  // index into Result::interfaces
};

struct Route {
    IpPrefix dst;
    std::optional<IpAddress> gw;
    // 1.1.0 only
    std::optional<int> mtu, advmss, priority, table, scope;
};

struct Dns {
    std::vector<std::string> nameservers;
    std::string domain;
    std::vector<std::string> search;
    std::vector<std::string> options;
    bool empty() const {
        return nameservers.empty() && domain.empty() && search.empty() && options.empty();
    }
};

struct Result {
    std::vector<Interface> interfaces;
    std::vector<IpConfig> ips;
    std::vector<Route> routes;
    Dns dns;
};

// The first address of a family (AF_INET / AF_INET6) and its gateway; nullopt when none.
std::optional<IpConfig> first_of_family(const std::vector<IpConfig>& ips, int family);
std::optional<IpAddress> gateway_of(const std::vector<IpConfig>& ips, int family);

// Renders the result in the format of `version` (0.3.0 ... 1.1.0).
nlohmann::json result_json(const Result& result, const std::string& version);

// Parses a result of any supported version (a prevResult or a delegated IPAM answer).
// Throws Error(kDecodeFailure) naming the bad field, prefixed by `what`.
Result parse_result(const nlohmann::json& value, const std::string& what = "result");

// Route and DNS objects; errors carry `code` (kDecodeFailure for results, kInvalidConfig for
// a network config) and name the field by `where`.
Route parse_route(const nlohmann::json& item, const std::string& where);
Route parse_route_with_code(const nlohmann::json& item, const std::string& where, int code);
Dns parse_dns(const nlohmann::json& value, const std::string& where);
Dns parse_dns_with_code(const nlohmann::json& value, const std::string& where, int code);
nlohmann::json dns_json(const Dns& dns);

}  // namespace shuttle::cni
