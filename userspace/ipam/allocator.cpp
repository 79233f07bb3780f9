#include "ipam/allocator.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "cni/error.h"

namespace shuttle::ipam {

namespace {

struct Candidate {
    IpAddress ip;
    const Range* range;
};

IpAddress next(const IpAddress& ip) {
    return IpAddress::v4(ip.v4_host_order() + 1);
}

// Every allocatable address of the set in host-local's order, starting after `last`.
std::vector<Candidate> candidates(const RangeSet& set, const std::optional<IpAddress>& last) {
    std::vector<Candidate> all;
    for (const auto& range : set) {
        for (auto ip = range.start;; ip = next(ip)) {
            if (ip != range.gateway)
                all.push_back({ip, &range});
            if (ip == range.end)
                break;
        }
    }
    if (last) {
        auto it =
            std::find_if(all.begin(), all.end(), [&](const Candidate& c) { return c.ip == *last; });
        if (it != all.end())
            std::rotate(all.begin(), it + 1, all.end());
    }
    return all;
}

const Range* range_of(const RangeSet& set, const IpAddress& ip) {
    for (const auto& range : set) {
        if (range.contains(ip))
            return &range;
    }
    return nullptr;
}

cni::IpConfig ip_config(const IpAddress& ip, const Range& range) {
    return {IpPrefix{ip, range.subnet.length}, range.gateway, std::nullopt};
}

cni::IpConfig allocate_requested(Store& store, const RangeSet& set, int index, const IpAddress& ip,
                                 const std::string& id, const std::string& ifname) {
    const Range* range = range_of(set, ip);
    if (ip == range->gateway) {
        throw cni::Error(cni::kAddressUnavailable, "requested IP address is the gateway",
                         ip.str() + " in range set " + range_set_str(set));
    }
    if (!store.reserve(ip, id, ifname, index)) {
        throw cni::Error(cni::kAddressUnavailable, "requested IP address is not available",
                         ip.str() + " in range set " + range_set_str(set));
    }
    return ip_config(ip, *range);
}

cni::IpConfig allocate_next(Store& store, const RangeSet& set, int index, const std::string& id,
                            const std::string& ifname) {
    for (const auto& candidate : candidates(set, store.last_reserved(index))) {
        if (store.reserve(candidate.ip, id, ifname, index)) {
            return ip_config(candidate.ip, *candidate.range);
        }
    }
    throw cni::Error(cni::kRangeExhausted, "no IP addresses available in range set",
                     range_set_str(set));
}

cni::Dns read_dns(const std::string& path) {
    if (path.empty())
        return {};
    std::ifstream in(path);
    if (!in)
        return {};
    std::ostringstream text;
    text << in.rdbuf();
    return parse_resolv_conf(text.str());
}

}  // namespace

cni::Result allocate(Store& store, const Config& config, const std::string& container_id,
                     const std::string& ifname, const std::vector<IpAddress>& requested) {
    auto lock = store.lock();
    auto held = store.get_by_id(container_id, ifname);
    cni::Result result;
    std::vector<IpAddress> reserved;
    std::vector<IpAddress> remaining = requested;
    try {
        for (size_t i = 0; i < config.range_sets.size(); ++i) {
            const auto& set = config.range_sets[i];
            int index = static_cast<int>(i);
            for (const auto& ip : held) {
                if (range_of(set, ip)) {
                    throw cni::Error(
                        cni::kDuplicateAllocation, "duplicate allocation is not allowed",
                        ip.str() + " is already allocated to " + container_id + "/" + ifname);
                }
            }
            auto wanted = std::find_if(remaining.begin(), remaining.end(),
                                       [&](const IpAddress& ip) { return range_of(set, ip); });
            cni::IpConfig ip;
            if (wanted != remaining.end()) {
                ip = allocate_requested(store, set, index, *wanted, container_id, ifname);
                remaining.erase(wanted);
            } else {
                ip = allocate_next(store, set, index, container_id, ifname);
            }
            reserved.push_back(ip.address.address);
            result.ips.push_back(ip);
        }
        if (!remaining.empty()) {
            throw cni::Error(cni::kAddressUnavailable, "requested IP address is in no range set",
                             remaining.front().str());
        }
    } catch (...) {
        for (const auto& ip : reserved)
            store.release(ip);
        throw;
    }
    result.routes = config.routes;
    result.dns = read_dns(config.resolv_conf);
    return result;
}

std::vector<IpAddress> release(Store& store, const std::string& container_id,
                               const std::string& ifname) {
    auto lock = store.lock();
    return store.release_by_id(container_id, ifname);
}

}  // namespace shuttle::ipam
