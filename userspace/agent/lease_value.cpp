#include "agent/lease_value.h"

#include <charconv>
#include <random>

#include <nlohmann/json.hpp>

#include "common/json_text.h"

namespace shuttle::agent {

std::string format_lease_value(const IpAddress& public_ip, int vni, const MacAddress& vtep_mac) {
    nlohmann::ordered_json value = {
        {"PublicIP", public_ip.str()},
        {"PublicIPv6", nullptr},
        {"BackendType", "vxlan"},
        {"BackendData", {{"VNI", vni}, {"VtepMAC", vtep_mac.str()}}},
    };
    return dump_json(value);
}

std::optional<LeaseAttrs> parse_lease_value(std::string_view text) {
    auto json = parse_json_or_discarded(text);
    if (!json.is_object()) {
        return std::nullopt;
    }
    auto ip = json.find("PublicIP");
    if (ip == json.end() || !ip->is_string()) {
        return std::nullopt;
    }
    LeaseAttrs attrs;
    auto address = IpAddress::parse(ip->get<std::string>());
    if (!address || !address->is_v4()) {
        return std::nullopt;
    }
    attrs.public_ip = *address;
    if (auto type = json.find("BackendType"); type != json.end() && type->is_string()) {
        attrs.backend_type = type->get<std::string>();
    }
    auto data = json.find("BackendData");
    if (data != json.end() && data->is_object()) {
        if (auto vni = data->find("VNI"); vni != data->end() && vni->is_number_integer()) {
            attrs.vni = vni->get<int>();
        }
        if (auto mac = data->find("VtepMAC"); mac != data->end() && mac->is_string()) {
            attrs.vtep_mac = MacAddress::parse(mac->get<std::string>());
        }
    }
    return attrs;
}

std::string subnet_key_name(const IpPrefix& subnet) {
    return subnet.address.str() + "-" + std::to_string(subnet.length);
}

std::optional<IpPrefix> parse_subnet_key_name(std::string_view name) {
    name = name.substr(0, name.find('&'));
    auto dash = name.rfind('-');
    if (dash == std::string_view::npos) {
        return std::nullopt;
    }
    auto address = IpAddress::parse(name.substr(0, dash));
    auto len_text = name.substr(dash + 1);
    int length = -1;
    auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
    if (!address || !address->is_v4() || ec != std::errc() ||
        end != len_text.data() + len_text.size() || length < 0 || length > 32) {
        return std::nullopt;
    }
    IpPrefix prefix{*address, length};
    if (prefix.network() != prefix) {
        return std::nullopt;
    }
    return prefix;
}

bool subnet_fits(const NetworkConfig& config, const IpPrefix& subnet) {
    if (!subnet.address.is_v4() || subnet.length != config.subnet_len) {
        return false;
    }
    auto ip = subnet.address.v4_host_order();
    return subnet.network() == subnet && ip >= config.subnet_min.v4_host_order() &&
           ip <= config.subnet_max.v4_host_order();
}

std::vector<IpPrefix> free_subnets(const NetworkConfig& config, const std::set<IpPrefix>& taken,
                                   size_t limit) {
    std::vector<IpPrefix> found;
    uint64_t step = uint64_t(1) << (32 - config.subnet_len);
    uint64_t last = config.subnet_max.v4_host_order();
    for (uint64_t ip = config.subnet_min.v4_host_order(); ip <= last && found.size() < limit;
         ip += step) {
        IpPrefix candidate{IpAddress::v4(static_cast<uint32_t>(ip)), config.subnet_len};
        if (!taken.count(candidate)) {
            found.push_back(candidate);
        }
    }
    return found;
}

MacAddress random_vtep_mac() {
    std::random_device random;
    MacAddress mac;
    for (auto& byte : mac.bytes) {
        byte = static_cast<uint8_t>(random());
    }
    mac.bytes[0] = (mac.bytes[0] & 0xfe) | 0x02;  // unicast, locally administered
    return mac;
}

}  // namespace shuttle::agent
