// The peer set on the node: the routes map (IPv4), and with IPv6 the device's per-peer
// routes and neighbours, routes6 and peers6; their periodic check against the peer set.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/log.h"
#include "agent/node_datapath.h"
#include "overlay/vxlan_ipv6.h"
#include "shuttle_abi.h"

namespace shuttle::agent {

namespace {

std::vector<datapath::RemoteRoute> remote_routes(const PeerMap& peers) {
    std::vector<datapath::RemoteRoute> routes;
    routes.reserve(peers.size());
    for (const auto& [subnet, peer] : peers) {
        if (!subnet.address.is_v4()) {
            continue;  // an IPv6-only network's peers: no IPv4 route
        }
        datapath::RemoteRoute route;
        route.subnet = subnet;
        route.underlay_ip = peer.public_ip;
        route.vtep_mac = peer.vtep_mac;
        route.vni = static_cast<uint32_t>(peer.vni);
        routes.push_back(route);
    }
    return routes;
}

// An IPv6-only network's leases have no BackendData VNI: the network's is theirs.
std::vector<overlay::Ipv6Peer> ipv6_peers(const PeerMap& peers, int network_vni) {
    std::vector<overlay::Ipv6Peer> result;
    for (const auto& [subnet, peer] : peers) {
        if (peer.ipv6_subnet && peer.public_ipv6 && peer.vtep_mac_v6) {
            result.push_back({*peer.ipv6_subnet, *peer.public_ipv6, *peer.vtep_mac_v6,
                              static_cast<uint32_t>(peer.vni == 0 ? network_vni : peer.vni)});
        }
    }
    return result;
}

// routes6 (from_pod's IPv6 device path) for the same peers: subnets normalised, those the map
// cannot key (longer than /64) left out, sorted as Node::routes6() reads them back.
std::vector<datapath::RemoteRoute6> ipv6_map_routes(const std::vector<overlay::Ipv6Peer>& peers,
                                                    const IpAddress& own_public_ipv6) {
    std::vector<datapath::RemoteRoute6> result;
    for (const auto& peer : peers) {
        if (peer.subnet.length > SHUTTLE_ROUTE6_MAX_PREFIX) {
            continue;
        }
        result.push_back(
            {peer.subnet.network(), peer.public_ipv6, own_public_ipv6, peer.vtep_mac, peer.vni});
    }
    std::sort(result.begin(), result.end(),
              [](const auto& a, const auto& b) { return a.subnet < b.subnet; });
    return result;
}

// peers6 (from_overlay's IPv6 tunnel check) for the same peers, as Node::peers6() reads it
// back: one entry per PublicIPv6 (the map's key: the last peer of an address wins, as in
// set_peers6), subnets normalised, sorted by address.
std::vector<datapath::Peer6> ipv6_map_peers(const std::vector<overlay::Ipv6Peer>& peers) {
    std::vector<datapath::Peer6> result;
    for (const auto& peer : peers) {
        auto same = std::find_if(result.begin(), result.end(), [&](const datapath::Peer6& p) {
            return p.public_ip == peer.public_ipv6;
        });
        datapath::Peer6 entry{peer.public_ipv6, peer.subnet.network()};
        if (same == result.end()) {
            result.push_back(entry);
        } else {
            *same = entry;
        }
    }
    std::sort(result.begin(), result.end(), [](const auto& a, const auto& b) {
        return a.public_ip.to_integer() < b.public_ip.to_integer();
    });
    return result;
}

}  // namespace

size_t NodeDatapath::route_count_locked() const {
    return peers_ ? remote_routes(*peers_).size() : 0;
}

void NodeDatapath::set_peers(const PeerMap& peers) {
    std::lock_guard lock(mutex_);
    peers_ = peers;
    routes_pending_ = true;
    write_routes_locked();
}

// A failure is logged and retried by maintain(): the watch only calls again on a change.
void NodeDatapath::write_routes_locked() {
    if (!peers_ || !routes_pending_) {
        return;
    }
    try {
        if (!applied_ || applied_->config.enable_ipv4) {
            node_.set_routes(remote_routes(*peers_));
        }
        write_ipv6_routes_locked();
        routes_pending_ = false;
        routes_error_.clear();
    } catch (const std::exception& e) {
        routes_error_ = std::string("routes map: ") + e.what();
        log_error(routes_error_ + " (retried in 5 s)");
    }
}

// The device's IPv6 routes and neighbours, and the peers6 map of from_overlay's IPv6 tunnel
// check: only once the lease put IPv6 on the device.
void NodeDatapath::write_ipv6_routes_locked() {
    if (!applied_ || !applied_->ipv6_subnet || !options_.public_ipv6) {
        return;
    }
    auto peers = ipv6_peers(*peers_, applied_->config.vni);
    size_t count =
        overlay::set_ipv6_peers(netlink_, applied_->ifname, *options_.public_ipv6, peers);
    // from_overlay runs on the device (dual-stack and IPv6-only) and checks IPv6 tunnel
    // packets by these.
    node_.set_peers6(ipv6_map_peers(peers));
    // After the kernel routes: a packet from_pod hands to the stack always has one.
    node_.set_routes6(ipv6_map_routes(peers, *options_.public_ipv6));
    if (count != ipv6_routes_) {
        log_info("IPv6 overlay: " + std::to_string(count) + " peer route(s) on " +
                 applied_->ifname);
    }
    ipv6_routes_ = count;
}

// The peers' IPv6 routes and neighbours on the device, checked against the peer set (they are
// kernel state anyone can delete; the peer watch only writes them again on a change).
void NodeDatapath::repair_ipv6_peers_locked() {
    if (!applied_ || !applied_->ipv6_subnet || !options_.public_ipv6 || !peers_ ||
        routes_pending_) {
        return;
    }
    try {
        auto peers = ipv6_peers(*peers_, applied_->config.vni);
        auto drift =
            overlay::ipv6_peers_drift(netlink_, applied_->ifname, *options_.public_ipv6, peers);
        if (drift.empty() && node_.routes6() != ipv6_map_routes(peers, *options_.public_ipv6)) {
            drift = "map routes6 differs from the peers' IPv6 leases";
        }
        if (drift.empty()) {
            auto wanted = ipv6_map_peers(peers);
            auto held = node_.peers6();
            if (held != wanted) {
                drift = "map peers6 differs from the peers' IPv6 leases (" +
                        std::to_string(held.size()) + " entries, " + std::to_string(wanted.size()) +
                        " wanted)";
            }
        }
        if (drift.empty()) {
            return;
        }
        log_info("IPv6 overlay drift: " + drift + "; repairing");
        write_ipv6_routes_locked();
    } catch (const std::exception& e) {
        log_error(std::string("IPv6 overlay repair failed: ") + e.what() + " (retried in 5 s)");
    }
}

}  // namespace shuttle::agent
