#include "agent/network_config.h"

#include <strings.h>

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/json_text.h"

namespace shuttle::agent {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& field, const std::string& why) {
    throw std::invalid_argument(field + ": " + why);
}

// Go's encoding/json: an exact key match wins, otherwise the first case-insensitive one.
const json* find_key(const json& object, const std::string& name) {
    if (auto it = object.find(name); it != object.end()) {
        return &*it;
    }
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (strcasecmp(it.key().c_str(), name.c_str()) == 0) {
            return &*it;
        }
    }
    return nullptr;
}

const json* present(const json& object, const std::string& name) {
    auto* value = find_key(object, name);
    return value && !value->is_null() ? value : nullptr;
}

int int_field(const json& object, const std::string& name, const std::string& path, int fallback,
              int min, int max) {
    auto* value = present(object, name);
    if (!value) {
        return fallback;
    }
    if (!value->is_number_integer()) {
        fail(path, "must be an integer, got " + value->dump());
    }
    auto number = value->get<int64_t>();
    if (number < min || number > max) {
        fail(path, std::to_string(number) + " is out of range " + std::to_string(min) + ".." +
                       std::to_string(max));
    }
    return static_cast<int>(number);
}

bool bool_field(const json& object, const std::string& name, const std::string& path,
                bool fallback) {
    auto* value = present(object, name);
    if (!value) {
        return fallback;
    }
    if (!value->is_boolean()) {
        fail(path, "must be true or false, got " + value->dump());
    }
    return value->get<bool>();
}

std::string string_field(const json& object, const std::string& name, const std::string& path) {
    auto* value = present(object, name);
    if (!value) {
        return "";
    }
    if (!value->is_string()) {
        fail(path, "must be a string, got " + value->dump());
    }
    return value->get<std::string>();
}

uint32_t subnet_size(int subnet_len) {
    return subnet_len == 0 ? 0 : uint32_t(1) << (32 - subnet_len);
}

uint32_t subnet_mask(int subnet_len) {
    return subnet_len == 0 ? 0 : ~uint32_t(0) << (32 - subnet_len);
}

IpPrefix parse_network(const json& root) {
    auto text = string_field(root, "Network", "Network");
    if (text.empty()) {
        fail("Network", "missing (the IPv4 cluster network, e.g. \"10.244.0.0/16\")");
    }
    auto network = IpPrefix::parse(text);
    if (!network || !network->address.is_v4()) {
        fail("Network", "\"" + text + "\" is not an IPv4 CIDR");
    }
    return network->network();
}

int default_subnet_len(const IpPrefix& network) {
    if (network.length > 28) {
        fail("Network", network.str() + " is too small; the minimum useful prefix is /28");
    }
    // Each node gets a /24 when the network holds at least four of them; otherwise a quarter.
    return network.length <= 22 ? 24 : network.length + 2;
}

int parse_subnet_len(const json& root, const IpPrefix& network) {
    int len = int_field(root, "SubnetLen", "SubnetLen", 0, 0, 32);
    if (len == 0) {
        return default_subnet_len(network);
    }
    if (len > 30) {
        fail("SubnetLen", "/" + std::to_string(len) + " is longer than /30");
    }
    if (len < network.length + 2) {
        fail("SubnetLen", "/" + std::to_string(len) + " leaves Network " + network.str() +
                              " fewer than four subnets (it must be at least /" +
                              std::to_string(network.length + 2) + ")");
    }
    return len;
}

IpAddress parse_bound(const json& root, const char* field, const NetworkConfig& config,
                      uint32_t fallback) {
    auto text = string_field(root, field, field);
    if (text.empty()) {
        return IpAddress::v4(fallback);
    }
    auto address = IpAddress::parse(text);
    if (!address || !address->is_v4()) {
        fail(field, "\"" + text + "\" is not an IPv4 address");
    }
    if (!config.network.contains(*address)) {
        fail(field, text + " is not in Network " + config.network.str());
    }
    if ((address->v4_host_order() & subnet_mask(config.subnet_len)) != address->v4_host_order()) {
        fail(field,
             text + " is not on a /" + std::to_string(config.subnet_len) + " (SubnetLen) boundary");
    }
    return *address;
}

using Number = unsigned __int128;

Number ipv6_subnet_size(int subnet_len) {
    return static_cast<Number>(1) << (128 - subnet_len);
}

// flannel's IPv6 rules (CheckNetworkConfig): the default length is /64 when the network holds
// four of them, else the network's length + 2; the first subnet is skipped by default.
void parse_ipv6(const json& root, NetworkConfig& config) {
    auto text = string_field(root, "IPv6Network", "IPv6Network");
    if (text.empty()) {
        fail("IPv6Network", "missing (the IPv6 cluster network, e.g. \"fd00:10:244::/56\")");
    }
    auto network = IpPrefix::parse(text);
    if (!network || network->address.is_v4()) {
        fail("IPv6Network", "\"" + text + "\" is not an IPv6 CIDR");
    }
    config.ipv6_network = network->network();
    int network_len = config.ipv6_network.length;
    int len = int_field(root, "IPv6SubnetLen", "IPv6SubnetLen", 0, 0, 128);
    if (len == 0) {
        if (network_len > 124) {
            fail("IPv6Network",
                 config.ipv6_network.str() + " is too small; the minimum useful prefix is /124");
        }
        len = network_len <= 62 ? 64 : network_len + 2;
    } else if (len > 126) {
        fail("IPv6SubnetLen", "/" + std::to_string(len) + " is longer than /126");
    } else if (len < network_len + 2) {
        fail("IPv6SubnetLen", "/" + std::to_string(len) + " leaves IPv6Network " +
                                  config.ipv6_network.str() +
                                  " fewer than four subnets (it must be at least /" +
                                  std::to_string(network_len + 2) + ")");
    }
    config.ipv6_subnet_len = len;
    Number first = config.ipv6_network.address.to_integer();
    Number size = ipv6_subnet_size(len);
    auto bound = [&](const char* field, Number fallback) {
        auto value = string_field(root, field, field);
        if (value.empty()) {
            return IpAddress::from_integer(AF_INET6, fallback);
        }
        auto address = IpAddress::parse(value);
        if (!address || address->is_v4()) {
            fail(field, "\"" + value + "\" is not an IPv6 address");
        }
        if (!config.ipv6_network.contains(*address)) {
            fail(field, value + " is not in IPv6Network " + config.ipv6_network.str());
        }
        if (IpPrefix{*address, len}.network().address != *address) {
            fail(field,
                 value + " is not on a /" + std::to_string(len) + " (IPv6SubnetLen) boundary");
        }
        return *address;
    };
    config.ipv6_subnet_min = bound("IPv6SubnetMin", first + size);
    config.ipv6_subnet_max =
        bound("IPv6SubnetMax", config.ipv6_network.last().to_integer() - size + 1);
    if (config.ipv6_subnet_min.to_integer() > config.ipv6_subnet_max.to_integer()) {
        fail("IPv6SubnetMin", config.ipv6_subnet_min.str() + " is above IPv6SubnetMax " +
                                  config.ipv6_subnet_max.str());
    }
}

void parse_ipv4(const json& root, NetworkConfig& config) {
    config.network = parse_network(root);
    config.subnet_len = parse_subnet_len(root, config.network);
    uint32_t first = config.network.address.v4_host_order();
    uint32_t size = subnet_size(config.subnet_len);
    uint32_t network_size = subnet_size(config.network.length);
    // The first subnet is skipped by default (its .0 would clash with the network address).
    config.subnet_min = parse_bound(root, "SubnetMin", config, first + size);
    config.subnet_max = parse_bound(root, "SubnetMax", config, first + network_size - size);
    if (config.subnet_min.v4_host_order() > config.subnet_max.v4_host_order()) {
        fail("SubnetMin",
             config.subnet_min.str() + " is above SubnetMax " + config.subnet_max.str());
    }
}

void parse_backend(const json& root, NetworkConfig& config) {
    auto* backend = present(root, "Backend");
    if (!backend) {
        fail("Backend.Type", "missing; only \"vxlan\" is supported");
    }
    if (!backend->is_object()) {
        fail("Backend", "must be an object, got " + backend->dump());
    }
    auto type = string_field(*backend, "Type", "Backend.Type");
    if (strcasecmp(type.c_str(), "vxlan") != 0) {
        fail("Backend.Type",
             "\"" + type + "\" is not supported; only \"vxlan\" is (flannel's default is udp)");
    }
    config.backend_type = "vxlan";
    config.vni = int_field(*backend, "VNI", "Backend.VNI", 1, 0, (1 << 24) - 1);
    if (config.vni == 0) {
        config.vni = 1;  // flannel treats 0 as unset
    }
    config.port = int_field(*backend, "Port", "Backend.Port", 0, 0, 65535);
    if (config.port == 0) {
        config.port = 8472;
    }
    if (bool_field(*backend, "DirectRouting", "Backend.DirectRouting", false)) {
        fail("Backend.DirectRouting", "true is not supported");
    }
    if (bool_field(*backend, "GBP", "Backend.GBP", false)) {
        fail("Backend.GBP", "true is not supported");
    }
}

}  // namespace

NetworkConfig parse_network_config(const std::string& json_text) {
    auto root = parse_json_or_discarded(json_text);
    if (!root.is_object()) {
        throw std::invalid_argument("config: not a JSON object");
    }
    NetworkConfig config;
    config.enable_ipv4 = bool_field(root, "EnableIPv4", "EnableIPv4", true);
    config.enable_ipv6 = bool_field(root, "EnableIPv6", "EnableIPv6", false);
    if (!config.enable_ipv4 && !config.enable_ipv6) {
        fail("EnableIPv4", "false needs EnableIPv6 true (no address family left)");
    }
    if (config.enable_ipv4) {
        parse_ipv4(root, config);
    } else {
        config.network = IpPrefix{IpAddress::v4(0), 0};
        config.subnet_len = 0;
        config.subnet_min = config.subnet_max = IpAddress::v4(0);
    }
    if (config.enable_ipv6) {
        parse_ipv6(root, config);
    }
    parse_backend(root, config);
    return config;
}

}  // namespace shuttle::agent
