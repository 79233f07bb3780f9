#include "cni/result.h"

#include "cni/error.h"
#include "cni/version.h"

namespace shuttle::cni {

using nlohmann::json;

namespace {

[[noreturn]] void bad(int code, const std::string& where, const std::string& why) {
    throw Error(code, (code == kInvalidConfig ? "invalid network config: " : "invalid ") + where,
                why);
}

std::string get_string(const json& object, const char* key, const std::string& where, bool required,
                       int code) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        if (required) {
            bad(code, where + "." + key, "missing");
        }
        return "";
    }
    if (!it->is_string()) {
        bad(code, where + "." + key, "must be a string");
    }
    return it->get<std::string>();
}

std::optional<int> get_int(const json& object, const char* key, const std::string& where,
                           int code) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        return std::nullopt;
    }
    if (!it->is_number_integer()) {
        bad(code, where + "." + key, "must be an integer");
    }
    return it->get<int>();
}

std::vector<std::string> get_strings(const json& object, const char* key, const std::string& where,
                                     int code) {
    std::vector<std::string> out;
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        return out;
    }
    if (!it->is_array()) {
        bad(code, where + "." + key, "must be a list of strings");
    }
    for (const auto& item : *it) {
        if (!item.is_string()) {
            bad(code, where + "." + key, "must be a list of strings");
        }
        out.push_back(item.get<std::string>());
    }
    return out;
}

void require_object(const json& value, const std::string& where, int code) {
    if (!value.is_object()) {
        bad(code, where, "must be an object");
    }
}

IpPrefix parse_prefix_field(const json& object, const char* key, const std::string& where,
                            int code) {
    auto text = get_string(object, key, where, true, code);
    auto prefix = IpPrefix::parse(text);
    if (!prefix) {
        bad(code, where + "." + key, "\"" + text + "\" is not an address/length");
    }
    return *prefix;
}

std::optional<IpAddress> parse_address_field(const json& object, const char* key,
                                             const std::string& where, int code) {
    auto text = get_string(object, key, where, false, code);
    if (text.empty()) {
        return std::nullopt;
    }
    auto ip = IpAddress::parse(text);
    if (!ip) {
        bad(code, where + "." + key, "\"" + text + "\" is not an IP address");
    }
    return ip;
}

json interface_json(const Interface& iface, bool v110) {
    json out = {{"name", iface.name}};
    if (!iface.mac.empty())
        out["mac"] = iface.mac;
    if (v110 && iface.mtu)
        out["mtu"] = *iface.mtu;
    if (!iface.sandbox.empty())
        out["sandbox"] = iface.sandbox;
    if (v110 && !iface.socket_path.empty())
        out["socketPath"] = iface.socket_path;
    if (v110 && !iface.pci_id.empty())
        out["pciID"] = iface.pci_id;
    return out;
}

json route_json(const Route& route, bool v110) {
    json out = {{"dst", route.dst.str()}};
    if (route.gw)
        out["gw"] = route.gw->str();
    if (v110) {
        if (route.mtu)
            out["mtu"] = *route.mtu;
        if (route.advmss)
            out["advmss"] = *route.advmss;
        if (route.priority)
            out["priority"] = *route.priority;
        if (route.table)
            out["table"] = *route.table;
        if (route.scope)
            out["scope"] = *route.scope;
    }
    return out;
}

}  // namespace

json dns_json(const Dns& dns) {
    json out = json::object();
    if (!dns.nameservers.empty())
        out["nameservers"] = dns.nameservers;
    if (!dns.domain.empty())
        out["domain"] = dns.domain;
    if (!dns.search.empty())
        out["search"] = dns.search;
    if (!dns.options.empty())
        out["options"] = dns.options;
    return out;
}

json result_json(const Result& result, const std::string& version) {
    bool pre_100 = compare_versions(version, "1.0.0") < 0;
    bool v110 = compare_versions(version, "1.1.0") >= 0;
    json out = {{"cniVersion", version}};
    if (!result.interfaces.empty()) {
        json list = json::array();
        for (const auto& iface : result.interfaces)
            list.push_back(interface_json(iface, v110));
        out["interfaces"] = list;
    }
    if (!result.ips.empty()) {
        json list = json::array();
        for (const auto& ip : result.ips) {
            json item;
            if (pre_100)
                item["version"] = ip.address.address.is_v4() ? "4" : "6";
            if (ip.interface)
                item["interface"] = *ip.interface;
            item["address"] = ip.address.str();
            if (ip.gateway)
                item["gateway"] = ip.gateway->str();
            list.push_back(item);
        }
        out["ips"] = list;
    }
    if (!result.routes.empty()) {
        json list = json::array();
        for (const auto& route : result.routes)
            list.push_back(route_json(route, v110));
        out["routes"] = list;
    }
    out["dns"] = dns_json(result.dns);
    return out;
}

Route parse_route(const json& item, const std::string& where) {
    return parse_route_with_code(item, where, kDecodeFailure);
}

Route parse_route_with_code(const json& item, const std::string& where, int code) {
    require_object(item, where, code);
    Route route;
    route.dst = parse_prefix_field(item, "dst", where, code);
    route.gw = parse_address_field(item, "gw", where, code);
    route.mtu = get_int(item, "mtu", where, code);
    route.advmss = get_int(item, "advmss", where, code);
    route.priority = get_int(item, "priority", where, code);
    route.table = get_int(item, "table", where, code);
    route.scope = get_int(item, "scope", where, code);
    return route;
}

Dns parse_dns(const json& value, const std::string& where) {
    return parse_dns_with_code(value, where, kDecodeFailure);
}

Dns parse_dns_with_code(const json& value, const std::string& where, int code) {
    Dns dns;
    if (value.is_null()) {
        return dns;
    }
    require_object(value, where, code);
    dns.nameservers = get_strings(value, "nameservers", where, code);
    dns.domain = get_string(value, "domain", where, false, code);
    dns.search = get_strings(value, "search", where, code);
    dns.options = get_strings(value, "options", where, code);
    return dns;
}

Result parse_result(const json& value, const std::string& what) {
    constexpr int code = kDecodeFailure;
    require_object(value, what, code);
    Result result;
    if (auto it = value.find("interfaces"); it != value.end() && !it->is_null()) {
        if (!it->is_array())
            bad(code, what + ".interfaces", "must be a list");
        for (size_t i = 0; i < it->size(); ++i) {
            auto where = what + ".interfaces[" + std::to_string(i) + "]";
            const auto& item = (*it)[i];
            require_object(item, where, code);
            Interface iface;
            iface.name = get_string(item, "name", where, true, code);
            iface.mac = get_string(item, "mac", where, false, code);
            iface.mtu = get_int(item, "mtu", where, code);
            iface.sandbox = get_string(item, "sandbox", where, false, code);
            iface.socket_path = get_string(item, "socketPath", where, false, code);
            iface.pci_id = get_string(item, "pciID", where, false, code);
            result.interfaces.push_back(iface);
        }
    }
    if (auto it = value.find("ips"); it != value.end() && !it->is_null()) {
        if (!it->is_array())
            bad(code, what + ".ips", "must be a list");
        for (size_t i = 0; i < it->size(); ++i) {
            auto where = what + ".ips[" + std::to_string(i) + "]";
            const auto& item = (*it)[i];
            require_object(item, where, code);
            IpConfig ip;
            ip.address = parse_prefix_field(item, "address", where, code);
            ip.gateway = parse_address_field(item, "gateway", where, code);
            ip.interface = get_int(item, "interface", where, code);
            result.ips.push_back(ip);
        }
    }
    if (auto it = value.find("routes"); it != value.end() && !it->is_null()) {
        if (!it->is_array())
            bad(code, what + ".routes", "must be a list");
        for (size_t i = 0; i < it->size(); ++i) {
            result.routes.push_back(
                parse_route((*it)[i], what + ".routes[" + std::to_string(i) + "]"));
        }
    }
    if (auto it = value.find("dns"); it != value.end()) {
        result.dns = parse_dns(*it, what + ".dns");
    }
    return result;
}

std::optional<IpConfig> first_of_family(const std::vector<IpConfig>& ips, int family) {
    for (const auto& ip : ips) {
        if (ip.address.address.family == family)
            return ip;
    }
    return std::nullopt;
}

std::optional<IpAddress> gateway_of(const std::vector<IpConfig>& ips, int family) {
    for (const auto& ip : ips) {
        if (ip.address.address.family == family && ip.gateway)
            return ip.gateway;
    }
    return std::nullopt;
}

}  // namespace shuttle::cni
