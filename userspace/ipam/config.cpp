#include "ipam/config.h"

#include <fstream>
#include <sstream>

#include "cni/error.h"

namespace shuttle::ipam {

using nlohmann::json;

namespace {

[[noreturn]] void invalid(const std::string& field, const std::string& why) {
    throw cni::Error(cni::kInvalidConfig, "invalid network config: " + field, why);
}

std::string optional_string(const json& object, const char* key, const std::string& where) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null())
        return "";
    if (!it->is_string())
        invalid(where + key, "must be a string");
    return it->get<std::string>();
}

IpAddress offset(const IpAddress& ip, int delta) {
    return IpAddress::from_integer(ip.family, ip.to_integer() + delta);
}

// host-local's lastIP: the prefix's last address, minus IPv4's broadcast.
IpAddress default_range_end(const IpPrefix& subnet) {
    auto last = subnet.last();
    return last.is_v4() ? offset(last, -1) : last;
}

IpAddress address_in(const IpPrefix& subnet, const std::string& text, const std::string& field) {
    auto ip = IpAddress::parse(text);
    if (!ip)
        invalid(field, "\"" + text + "\" is not an IP address");
    if (!subnet.contains(*ip))
        invalid(field, text + " is not in " + subnet.str());
    return *ip;
}

Range parse_range(const json& item, const std::string& field) {
    if (!item.is_object())
        invalid(field, "must be an object");
    auto subnet_text = optional_string(item, "subnet", field + ".");
    if (subnet_text.empty())
        invalid(field + ".subnet", "missing");
    auto subnet = IpPrefix::parse(subnet_text);
    if (!subnet)
        invalid(field + ".subnet", "\"" + subnet_text + "\" is not an address/length");
    return make_range(*subnet, optional_string(item, "rangeStart", field + "."),
                      optional_string(item, "rangeEnd", field + "."),
                      optional_string(item, "gateway", field + "."), field);
}

bool overlaps(const Range& a, const Range& b) {
    return a.subnet.contains(b.subnet.address) || b.subnet.contains(a.subnet.address);
}

void check_no_overlap(const std::vector<RangeSet>& sets) {
    std::vector<const Range*> all;
    for (const auto& set : sets) {
        for (const auto& range : set) {
            for (const Range* other : all) {
                if (overlaps(range, *other)) {
                    invalid("ipam.ranges",
                            "range " + range.subnet.str() + " overlaps " + other->subnet.str());
                }
            }
            all.push_back(&range);
        }
    }
}

std::vector<RangeSet> parse_range_sets(const json& ipam) {
    std::vector<RangeSet> sets;
    auto legacy_subnet = optional_string(ipam, "subnet", "ipam.");
    if (!legacy_subnet.empty()) {
        sets.push_back({parse_range(ipam, "ipam")});
    }
    auto it = ipam.find("ranges");
    if (it != ipam.end() && !it->is_null()) {
        if (!it->is_array())
            invalid("ipam.ranges", "must be a list of lists of ranges");
        for (size_t i = 0; i < it->size(); ++i) {
            auto set_field = "ipam.ranges[" + std::to_string(i) + "]";
            const auto& set_json = (*it)[i];
            if (!set_json.is_array() || set_json.empty()) {
                invalid(set_field, "must be a non-empty list of ranges");
            }
            RangeSet set;
            for (size_t j = 0; j < set_json.size(); ++j) {
                set.push_back(parse_range(set_json[j], set_field + "[" + std::to_string(j) + "]"));
                if (set.back().subnet.address.family != set.front().subnet.address.family) {
                    invalid(set_field, "mixes IPv4 and IPv6 ranges (one family per range set)");
                }
            }
            sets.push_back(std::move(set));
        }
    }
    if (sets.empty())
        invalid("ipam.ranges", "missing (no ranges and no subnet)");
    check_no_overlap(sets);
    return sets;
}

}  // namespace

bool Range::contains(const IpAddress& ip) const {
    if (ip.family != start.family)
        return false;
    auto value = ip.to_integer();
    return value >= start.to_integer() && value <= end.to_integer();
}

std::string Range::str() const {
    return start.str() + "-" + end.str();
}

std::string range_set_str(const RangeSet& set) {
    std::string out;
    for (const auto& range : set) {
        if (!out.empty())
            out += ",";
        out += range.str();
    }
    return out;
}

Range make_range(const IpPrefix& subnet, const std::string& start, const std::string& end,
                 const std::string& gateway, const std::string& field) {
    if (subnet.network() != subnet) {
        invalid(field + ".subnet", subnet.str() + " has host bits set");
    }
    if (subnet.length > subnet.max_length() - 2) {
        invalid(field + ".subnet", "network " + subnet.str() + " too small to allocate from");
    }
    Range range;
    range.subnet = subnet;
    range.start = start.empty() ? offset(subnet.address, 1)
                                : address_in(subnet, start, field + ".rangeStart");
    range.end =
        end.empty() ? default_range_end(subnet) : address_in(subnet, end, field + ".rangeEnd");
    range.gateway = gateway.empty() ? offset(subnet.address, 1)
                                    : address_in(subnet, gateway, field + ".gateway");
    if (range.start.to_integer() > range.end.to_integer()) {
        invalid(field + ".rangeStart", start + " is after rangeEnd " + range.end.str());
    }
    return range;
}

Config parse_config(const json& ipam) {
    if (!ipam.is_object())
        invalid("ipam", "must be an object");
    Config config;
    config.type = optional_string(ipam, "type", "ipam.");
    config.range_sets = parse_range_sets(ipam);
    if (auto it = ipam.find("routes"); it != ipam.end() && !it->is_null()) {
        if (!it->is_array())
            invalid("ipam.routes", "must be a list");
        for (size_t i = 0; i < it->size(); ++i) {
            config.routes.push_back(cni::parse_route_with_code(
                (*it)[i], "ipam.routes[" + std::to_string(i) + "]", cni::kInvalidConfig));
        }
    }
    auto data_dir = optional_string(ipam, "dataDir", "ipam.");
    if (!data_dir.empty()) {
        if (data_dir[0] != '/')
            invalid("ipam.dataDir", "\"" + data_dir + "\" must be absolute");
        config.data_dir = data_dir;
    }
    config.resolv_conf = optional_string(ipam, "resolvConf", "ipam.");
    return config;
}

cni::Dns parse_resolv_conf(const std::string& text) {
    cni::Dns dns;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string key;
        words >> key;
        std::string word;
        if (key == "nameserver") {
            if (words >> word)
                dns.nameservers.push_back(word);
        } else if (key == "domain") {
            words >> dns.domain;
        } else if (key == "search") {
            while (words >> word)
                dns.search.push_back(word);
        } else if (key == "options") {
            while (words >> word)
                dns.options.push_back(word);
        }
    }
    return dns;
}

}  // namespace shuttle::ipam
