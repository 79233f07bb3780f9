// Other nodes' IPv6 leases in the map routes6 (see shuttle_abi.h).
#include <bpf/bpf.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <stdexcept>

#include "datapath/abi_values.h"
#include "datapath/bpffs.h"
#include "datapath/datapath.h"
#include "datapath/map_access.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {

namespace {

using Route6Key = std::pair<std::array<uint8_t, 8>, uint32_t>;
using Route6Entries = std::map<Route6Key, shuttle_route6>;

shuttle_route6_key route6_key(const Route6Key& key) {
    shuttle_route6_key out{};
    std::copy(key.first.begin(), key.first.end(), out.subnet);
    out.prefix_len = key.second;
    return out;
}

// The map entries for `routes`: subnets over /64 left out, nonsense refused.
Route6Entries route6_entries(const std::vector<RemoteRoute6>& routes) {
    Route6Entries out;
    for (const RemoteRoute6& r : routes) {
        std::string what = "IPv6 route " + r.subnet.str() + ": ";
        if (r.subnet.address.family != AF_INET6 || r.underlay_ip6.family != AF_INET6 ||
            r.local_ip6.family != AF_INET6) {
            throw std::invalid_argument(what + "subnet and both underlay addresses are IPv6");
        }
        if (r.vni == 0 || r.vni > 0xFFFFFF) {
            throw std::invalid_argument(what + "VNI " + std::to_string(r.vni) +
                                        " is not 1..16777215");
        }
        if (r.subnet.length < 1 || r.subnet.length > SHUTTLE_ROUTE6_MAX_PREFIX) {
            continue;  // no key for it: the stack's route on the device carries it
        }
        shuttle_route6 value{};
        copy_ipv6(value.underlay_ip6, r.underlay_ip6);
        copy_ipv6(value.local_ip6, r.local_ip6);
        copy_mac(value.vtep_mac, r.vtep_mac);
        value.vni = r.vni;
        Route6Key key{};
        std::copy_n(r.subnet.network().address.bytes.begin(), 8, key.first.begin());
        key.second = static_cast<uint32_t>(r.subnet.length);
        if (!out.emplace(key, value).second) {
            throw std::invalid_argument(what + "listed twice");
        }
    }
    if (out.size() > SHUTTLE_MAX_ROUTES) {
        throw std::invalid_argument(std::to_string(out.size()) + " IPv6 routes; the map holds " +
                                    std::to_string(SHUTTLE_MAX_ROUTES));
    }
    return out;
}

Route6Entries read_routes6(int fd) {
    Route6Entries out;
    for (const auto& [key, value] :
         read_all<shuttle_route6_key, shuttle_route6>(fd, SHUTTLE_MAX_ROUTES, "routes6")) {
        Route6Key k{};
        std::copy(std::begin(key.subnet), std::end(key.subnet), k.first.begin());
        k.second = key.prefix_len;
        out.emplace(k, value);
    }
    return out;
}

bool same_route6(const shuttle_route6& a, const shuttle_route6& b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

void Node::set_routes6(const std::vector<RemoteRoute6>& routes) {
    DirLock lock(options_.bpffs_root);
    Route6Entries wanted = route6_entries(routes);
    const int fd = map_fd("routes6");
    Route6Entries current = read_routes6(fd);
    // Additions and changes first, so a subnet that moved never has no route.
    for (const auto& [key, value] : wanted) {
        auto found = current.find(key);
        if (found == current.end() || !same_route6(found->second, value)) {
            update(fd, route6_key(key), value);
        }
    }
    for (const auto& [key, value] : current) {
        if (!wanted.count(key)) {
            erase(fd, route6_key(key));
        }
    }
}

std::vector<RemoteRoute6> Node::routes6() const {
    std::vector<RemoteRoute6> out;
    for (const auto& [key, value] : read_routes6(map_fd("routes6"))) {
        uint8_t subnet[16] = {};
        std::copy(key.first.begin(), key.first.end(), subnet);
        RemoteRoute6 r;
        r.subnet = IpPrefix{ipv6_of(subnet), static_cast<int>(key.second)};
        r.underlay_ip6 = ipv6_of(value.underlay_ip6);
        r.local_ip6 = ipv6_of(value.local_ip6);
        r.vtep_mac = mac_of(value.vtep_mac);
        r.vni = value.vni;
        out.push_back(r);
    }
    std::sort(out.begin(), out.end(),
              [](const RemoteRoute6& a, const RemoteRoute6& b) { return a.subnet < b.subnet; });
    return out;
}

}  // namespace shuttle::datapath
