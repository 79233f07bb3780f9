#include "ipam/allocator.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "cni/error.h"

namespace shuttle::ipam {

namespace {

cni::IpConfig ip_config(const IpAddress& ip, const Range& range) {
    return {IpPrefix{ip, range.subnet.length}, range.gateway, std::nullopt};
}

using Number = unsigned __int128;

bool in_pool(const Range& range, const IpAddress& ip) {
    return range.contains(ip);
}

// Offers the addresses from..to of one range (inclusive), skipping the gateway.
template <typename Reserve>
std::optional<cni::IpConfig> first_reserved_in(const Range& range, Number from, Number to,
                                               Reserve& reserve) {
    for (Number a = from; a <= to; ++a) {
        auto ip = IpAddress::from_integer(range.start.family, a);
        if (ip != range.gateway && reserve(ip))
            return ip_config(ip, range);
        if (a == to)  // `to` may be the family's last address: ++a would wrap
            break;
    }
    return std::nullopt;
}

// host-local's round robin without listing the set (a /16 has 65,534 candidates, a /64
// 2^64): the addresses after `last` in its range, the following ranges, wrapping around,
// and `last`'s range up to `last` itself. Without a usable `last`, the set in order from its
// first range.
template <typename Reserve>
std::optional<cni::IpConfig> first_reserved(const RangeSet& set,
                                            const std::optional<IpAddress>& last,
                                            Reserve&& reserve) {
    size_t first = 0;
    std::optional<Number> resume;
    for (size_t i = 0; last && i < set.size(); ++i) {
        if (in_pool(set[i], *last) && *last != set[i].gateway) {
            first = i;
            resume = last->to_integer();
            break;
        }
    }
    auto whole = [&](const Range& r) {
        return first_reserved_in(r, r.start.to_integer(), r.end.to_integer(), reserve);
    };
    const Range& head = set[first];
    std::optional<cni::IpConfig> found;
    if (!resume)
        found = whole(head);
    else if (*resume < head.end.to_integer())
        found = first_reserved_in(head, *resume + 1, head.end.to_integer(), reserve);
    for (size_t k = 1; !found && k < set.size(); ++k)
        found = whole(set[(first + k) % set.size()]);
    if (!found && resume)
        found = first_reserved_in(head, head.start.to_integer(), *resume, reserve);
    return found;
}

const Range* range_of(const RangeSet& set, const IpAddress& ip) {
    for (const auto& range : set) {
        if (range.contains(ip))
            return &range;
    }
    return nullptr;
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
    auto found = first_reserved(set, store.last_reserved(index), [&](const IpAddress& ip) {
        return store.reserve(ip, id, ifname, index);
    });
    if (found)
        return *found;
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
