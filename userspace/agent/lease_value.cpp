#include "agent/lease_value.h"

#include <charconv>
#include <random>

#include <nlohmann/json.hpp>

#include "common/json_text.h"

namespace shuttle::agent {

std::string format_lease_value(const IpAddress& public_ip, int vni,
                               const std::optional<MacAddress>& vtep_mac,
                               const std::optional<LeaseV6>& v6) {
    nlohmann::ordered_json value;
    value["PublicIP"] = public_ip.empty() ? "0.0.0.0" : public_ip.str();
    value["PublicIPv6"] = v6 ? nlohmann::ordered_json(v6->public_ipv6.str()) : nullptr;
    value["BackendType"] = "vxlan";
    if (vtep_mac)
        value["BackendData"] = {{"VNI", vni}, {"VtepMAC", vtep_mac->str()}};
    if (v6)
        value["BackendV6Data"] = {{"VNI", vni}, {"VtepMAC", v6->vtep_mac.str()}};
    return dump_json(value);
}

namespace {

// {"VNI":1,"VtepMAC":"…"}: either field may be missing or bad.
void parse_backend_data(const nlohmann::json& json, const char* key, int& vni,
                        std::optional<MacAddress>& mac) {
    auto data = json.find(key);
    if (data == json.end() || !data->is_object())
        return;
    if (auto v = data->find("VNI"); v != data->end() && v->is_number_integer())
        vni = v->get<int>();
    if (auto m = data->find("VtepMAC"); m != data->end() && m->is_string())
        mac = MacAddress::parse(m->get<std::string>());
}

}  // namespace

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
    parse_backend_data(json, "BackendData", attrs.vni, attrs.vtep_mac);
    if (auto v6 = json.find("PublicIPv6"); v6 != json.end() && v6->is_string()) {
        auto address = IpAddress::parse(v6->get<std::string>());
        if (address && !address->is_v4())
            attrs.public_ipv6 = address;
    }
    parse_backend_data(json, "BackendV6Data", attrs.vni_v6, attrs.vtep_mac_v6);
    return attrs;
}

std::string subnet_key_name(const IpPrefix& subnet, const std::optional<IpPrefix>& ipv6_subnet) {
    auto name = subnet.address.str() + "-" + std::to_string(subnet.length);
    if (ipv6_subnet)
        name += "&" + ipv6_subnet->address.str() + "-" + std::to_string(ipv6_subnet->length);
    return name;
}

namespace {

// "<address>-<length>" of one family, no host bits.
std::optional<IpPrefix> parse_key_part(std::string_view text, int family) {
    auto dash = text.rfind('-');
    if (dash == std::string_view::npos)
        return std::nullopt;
    auto address = IpAddress::parse(text.substr(0, dash));
    auto len_text = text.substr(dash + 1);
    int length = -1;
    auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
    if (!address || address->family != family || ec != std::errc() ||
        end != len_text.data() + len_text.size() || length < 0 ||
        length > (family == AF_INET ? 32 : 128)) {
        return std::nullopt;
    }
    IpPrefix prefix{*address, length};
    if (prefix.network() != prefix)
        return std::nullopt;
    return prefix;
}

}  // namespace

std::optional<SubnetKey> parse_subnet_key(std::string_view name) {
    auto amp = name.find('&');
    auto ipv4 = parse_key_part(name.substr(0, amp), AF_INET);
    if (!ipv4)
        return std::nullopt;
    SubnetKey key{*ipv4, std::nullopt};
    if (amp != std::string_view::npos) {
        key.ipv6 = parse_key_part(name.substr(amp + 1), AF_INET6);
        if (!key.ipv6)
            return std::nullopt;
    }
    return key;
}

std::optional<IpPrefix> parse_subnet_key_name(std::string_view name) {
    auto key = parse_subnet_key(name);
    return key ? std::optional<IpPrefix>(key->ipv4) : std::nullopt;
}

bool subnet_fits(const NetworkConfig& config, const IpPrefix& subnet) {
    if (!subnet.address.is_v4() || subnet.length != config.subnet_len) {
        return false;
    }
    auto ip = subnet.address.v4_host_order();
    return subnet.network() == subnet && ip >= config.subnet_min.v4_host_order() &&
           ip <= config.subnet_max.v4_host_order();
}

bool ipv6_subnet_fits(const NetworkConfig& config, const std::optional<IpPrefix>& subnet) {
    if (!config.enable_ipv6)
        return !subnet;
    if (!subnet || subnet->address.is_v4() || subnet->length != config.ipv6_subnet_len)
        return false;
    auto value = subnet->address.to_integer();
    return subnet->network() == *subnet && value >= config.ipv6_subnet_min.to_integer() &&
           value <= config.ipv6_subnet_max.to_integer();
}

std::vector<IpPrefix> free_ipv6_subnets(const NetworkConfig& config,
                                        const std::set<IpPrefix>& taken, size_t limit) {
    std::vector<IpPrefix> found;
    if (!config.enable_ipv6)
        return found;
    using Number = unsigned __int128;
    Number step = static_cast<Number>(1) << (128 - config.ipv6_subnet_len);
    Number last = config.ipv6_subnet_max.to_integer();
    for (Number value = config.ipv6_subnet_min.to_integer(); value <= last && found.size() < limit;
         value += step) {
        IpPrefix candidate{IpAddress::from_integer(AF_INET6, value), config.ipv6_subnet_len};
        if (!taken.count(candidate))
            found.push_back(candidate);
        if (last - value < step)  // the next step would pass the family's last address
            break;
    }
    return found;
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
