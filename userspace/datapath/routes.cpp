// Other nodes' leases in the maps routes and route_slots (see shuttle_abi.h).
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>

#include "common/system_error.h"
#include "datapath/abi_values.h"
#include "datapath/bpffs.h"
#include "datapath/datapath.h"
#include "datapath/map_access.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {

namespace {

using RouteEntries = std::map<std::pair<uint32_t, uint32_t>, shuttle_route>;

shuttle_route_key route_key(uint32_t subnet, uint32_t prefix_len) {
    shuttle_route_key key{};
    key.subnet = subnet;
    key.prefix_len = prefix_len;
    return key;
}

// The map entries for `routes`, refusing what the programs could never match.
RouteEntries route_entries(const std::vector<RemoteRoute>& routes, const NodeConfig& cfg) {
    RouteEntries out;
    for (const RemoteRoute& r : routes) {
        std::string what = "route " + r.subnet.str() + ": ";
        if (!r.subnet.address.is_v4() || !r.underlay_ip.is_v4()) {
            throw std::invalid_argument(what + "the overlay handles IPv4 only");
        }
        if (r.subnet.length < 1 || r.subnet.length > 32) {
            throw std::invalid_argument(what + "bad prefix length");
        }
        if (!cfg.node_subnet.address.empty()) {
            if (r.subnet.length != cfg.node_subnet.length) {
                throw std::invalid_argument(what + "every node's subnet has this node's length /" +
                                            std::to_string(cfg.node_subnet.length) +
                                            " (the lookup masks with it)");
            }
            if (r.subnet.network() == cfg.node_subnet.network()) {
                throw std::invalid_argument(what + "is this node's own subnet");
            }
        }
        if (!cfg.cluster_network.address.empty() && !cfg.cluster_network.contains(r.subnet)) {
            throw std::invalid_argument(what + "is outside the cluster network " +
                                        cfg.cluster_network.str());
        }
        if (r.vni == 0 || r.vni > 0xFFFFFF) {
            throw std::invalid_argument(what + "VNI " + std::to_string(r.vni) +
                                        " is not 1..16777215");
        }
        shuttle_route value{};
        value.underlay_ip = ipv4_of(r.underlay_ip);
        copy_mac(value.vtep_mac, r.vtep_mac);
        value.vni = r.vni;
        auto key = std::make_pair(ipv4_of(r.subnet.network().address),
                                  static_cast<uint32_t>(r.subnet.length));
        if (!out.emplace(key, value).second) {
            throw std::invalid_argument(what + "listed twice");
        }
    }
    if (out.size() > SHUTTLE_MAX_ROUTES) {
        throw std::invalid_argument(std::to_string(out.size()) + " routes; the map holds " +
                                    std::to_string(SHUTTLE_MAX_ROUTES));
    }
    return out;
}

bool same_route(const shuttle_route& a, const shuttle_route& b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

// The index of the lease `subnet`/`len` (network order) in route_slots, nullopt when this
// config has no slot layout (see shuttle_abi.h) or the subnet is outside the cluster.
std::optional<uint32_t> route_slot(uint32_t subnet, uint32_t len, const shuttle_config& cfg) {
    const uint32_t node_len = cfg.node_subnet_len, cluster_len = cfg.cluster_len;
    if (node_len == 0 || node_len > 32 || cluster_len == 0 || cluster_len > node_len ||
        node_len - cluster_len > SHUTTLE_ROUTE_SLOT_BITS || len != node_len) {
        return std::nullopt;
    }
    uint32_t offset = ntohl(subnet) - ntohl(cfg.cluster_network);
    if (cluster_len < 32 && (offset >> (32 - cluster_len)) != 0) {
        return std::nullopt;
    }
    return offset >> (32 - node_len);
}

// Every slot of route_slots, in index order.
std::vector<shuttle_route> read_slots(int slots_fd) {
    std::vector<shuttle_route> out(SHUTTLE_MAX_ROUTE_SLOTS);
    for (const auto& [slot, value] :
         read_all<uint32_t, shuttle_route>(slots_fd, SHUTTLE_MAX_ROUTE_SLOTS, "route_slots")) {
        if (slot < out.size()) {
            out[slot] = value;
        }
    }
    return out;
}

RouteEntries read_routes(int routes_fd) {
    RouteEntries out;
    for (const auto& [key, value] :
         read_all<shuttle_route_key, shuttle_route>(routes_fd, SHUTTLE_MAX_ROUTES, "routes")) {
        out.emplace(std::make_pair(key.subnet, key.prefix_len), value);
    }
    return out;
}

// underlay_nodes := the routes' underlay addresses, each with its count of leases.
void sync_underlay_nodes(int nodes_fd, const RouteEntries& routes) {
    std::map<uint32_t, uint32_t> wanted;
    for (const auto& [key, value] : routes) {
        ++wanted[value.underlay_ip];
    }
    std::map<uint32_t, uint32_t> current;
    for (const auto& [ip, leases] :
         read_all<uint32_t, uint32_t>(nodes_fd, SHUTTLE_MAX_UNDERLAY_NODES, "underlay_nodes")) {
        current.emplace(ip, leases);
    }
    for (const auto& [ip, leases] : wanted) {
        auto found = current.find(ip);
        if (found == current.end() || found->second != leases) {
            update(nodes_fd, ip, leases);
        }
    }
    for (const auto& [ip, leases] : current) {
        if (!wanted.count(ip)) {
            erase(nodes_fd, ip);
        }
    }
}

}  // namespace

void Node::sync_route_slots() const {
    auto cfg =
        lookup<shuttle_config>(map_fd("node_config"), uint32_t{0}).value_or(shuttle_config{});
    const int slots_fd = map_fd("route_slots");
    std::vector<shuttle_route> wanted(SHUTTLE_MAX_ROUTE_SLOTS);
    RouteEntries routes = read_routes(map_fd("routes"));
    for (const auto& [key, value] : routes) {
        if (auto slot = route_slot(key.first, key.second, cfg)) {
            wanted[*slot] = value;
        }
    }
    sync_underlay_nodes(map_fd("underlay_nodes"), routes);
    std::vector<shuttle_route> current = read_slots(slots_fd);
    for (uint32_t i = 0; i < SHUTTLE_MAX_ROUTE_SLOTS; ++i) {
        if (!same_route(current[i], wanted[i])) {
            update(slots_fd, i, wanted[i]);
        }
    }
}

void Node::set_routes(const std::vector<RemoteRoute>& routes) {
    DirLock lock(options_.bpffs_root);
    RouteEntries wanted = route_entries(routes, config());
    const int fd = map_fd("routes");
    RouteEntries current = read_routes(fd);
    // Additions and changes first, so a subnet that moved never has no route.
    for (const auto& [key, value] : wanted) {
        auto found = current.find(key);
        if (found == current.end() || !same_route(found->second, value)) {
            update(fd, route_key(key.first, key.second), value);
        }
    }
    for (const auto& [key, value] : current) {
        if (!wanted.count(key)) {
            erase(fd, route_key(key.first, key.second));
        }
    }
    sync_route_slots();
}

std::vector<RemoteRoute> Node::routes() const {
    std::vector<RemoteRoute> out;
    for (const auto& [key, value] : read_routes(map_fd("routes"))) {
        RemoteRoute r;
        r.subnet = IpPrefix{ip_of(key.first), static_cast<int>(key.second)};
        r.underlay_ip = ip_of(value.underlay_ip);
        r.vtep_mac = mac_of(value.vtep_mac);
        r.vni = value.vni;
        out.push_back(r);
    }
    std::sort(out.begin(), out.end(), [](const RemoteRoute& a, const RemoteRoute& b) {
        return a.subnet.address.v4_host_order() < b.subnet.address.v4_host_order();
    });
    return out;
}

}  // namespace shuttle::datapath

namespace shuttle::datapath {

namespace {

using Peer6Entries = std::map<std::vector<uint8_t>, shuttle_peer6>;

shuttle_ip6 peer6_key(const std::vector<uint8_t>& address) {
    shuttle_ip6 key{};
    std::copy(address.begin(), address.end(), key.addr);
    return key;
}

Peer6Entries peer6_entries(const std::vector<Peer6>& peers) {
    Peer6Entries out;
    for (const Peer6& p : peers) {
        if (p.public_ip.family != AF_INET6 || p.subnet.address.family != AF_INET6) {
            throw std::invalid_argument("IPv6 peer " + p.public_ip.str() + " " + p.subnet.str() +
                                        ": an IPv6 address and subnet, please");
        }
        shuttle_peer6 value{};
        copy_ipv6(value.subnet, p.subnet.network().address);
        value.subnet_len = static_cast<uint32_t>(p.subnet.length);
        shuttle_ip6 key{};
        copy_ipv6(key.addr, p.public_ip);
        out[std::vector<uint8_t>(key.addr, key.addr + 16)] = value;
    }
    return out;
}

}  // namespace

void Node::set_peers6(const std::vector<Peer6>& peers) {
    Peer6Entries wanted = peer6_entries(peers);
    DirLock lock(options_.bpffs_root);
    const int fd = map_fd("peers6");
    for (const auto& [address, value] : wanted) {
        update(fd, peer6_key(address), value);
    }
    for (const shuttle_ip6& key : keys<shuttle_ip6>(fd)) {
        if (!wanted.count(std::vector<uint8_t>(key.addr, key.addr + 16))) {
            erase(fd, key);
        }
    }
    // Only now: from_overlay must not check against a half-written map.
    auto cfg =
        lookup<shuttle_config>(map_fd("node_config"), uint32_t{0}).value_or(shuttle_config{});
    if (!(cfg.flags & SHUTTLE_CONFIG_F_IPV6_PEERS)) {
        cfg.flags |= SHUTTLE_CONFIG_F_IPV6_PEERS;
        update(map_fd("node_config"), uint32_t{0}, cfg);
    }
}

std::vector<Peer6> Node::peers6() const {
    std::vector<Peer6> out;
    for (const auto& [key, value] :
         read_all<shuttle_ip6, shuttle_peer6>(map_fd("peers6"), SHUTTLE_MAX_PEERS6, "peers6")) {
        out.push_back({ipv6_of(key.addr),
                       IpPrefix{ipv6_of(value.subnet), static_cast<int>(value.subnet_len)}});
    }
    std::sort(out.begin(), out.end(), [](const Peer6& a, const Peer6& b) {
        return a.public_ip.to_integer() < b.public_ip.to_integer();
    });
    return out;
}

}  // namespace shuttle::datapath
