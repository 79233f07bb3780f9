#include "overlay/vxlan_ipv6.h"

#include <linux/neighbour.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "netlink/address.h"
#include "netlink/error.h"
#include "netlink/link.h"
#include "netlink/neighbour.h"
#include "netlink/route.h"
#include "netns/sysctl.h"

namespace shuttle::overlay {

namespace {

bool is_link_local(const IpAddress& ip) {
    return ip.family == AF_INET6 && ip.bytes[0] == 0xfe && (ip.bytes[1] & 0xc0) == 0x80;
}

bool ours(const netlink::Route& route, int index) {
    return route.destination.address.family == AF_INET6 && route.gateway && route.dev &&
           route.dev->index == index;
}

}  // namespace

IpPrefix ipv6_device_address(const IpPrefix& ipv6_subnet) {
    return IpPrefix::host(ipv6_subnet.network().address);
}

void ensure_ipv6_device(netlink::Socket& nl, const std::string& ifname,
                        const IpPrefix& ipv6_subnet) {
    netns::write_interface_sysctl("ipv6", ifname, "disable_ipv6", "0");
    netns::write_interface_sysctl("ipv6", ifname, "accept_ra", "0");
    netns::write_interface_sysctl("ipv6", ifname, "accept_dad", "0");
    auto link = netlink::get_link(nl, netlink::LinkRef(ifname));
    auto wanted = ipv6_device_address(ipv6_subnet);
    bool present = false;
    for (const auto& address : netlink::list_addresses(nl, AF_INET6, link.index)) {
        if (address.prefix == wanted) {
            present = true;
        } else if (!is_link_local(address.prefix.address)) {
            netlink::delete_address(nl, netlink::LinkRef(link.index), address.prefix);
        }
    }
    if (!present) {
        netlink::AddressOptions options;
        options.nodad = true;
        netlink::add_address(nl, netlink::LinkRef(link.index), wanted, options);
    }
}

namespace {

netlink::Neighbour peer_neighbour(int index, const Ipv6Peer& peer) {
    netlink::Neighbour neighbour;
    neighbour.dev = netlink::LinkRef(index);
    neighbour.address = peer.subnet.network().address;
    neighbour.mac = peer.vtep_mac;
    neighbour.state = NUD_PERMANENT;
    return neighbour;
}

netlink::Route peer_route(int index, const IpAddress& own_public_ipv6, const Ipv6Peer& peer) {
    netlink::Route route;
    route.destination = peer.subnet.network();
    route.gateway = peer.subnet.network().address;
    route.dev = netlink::LinkRef(index);
    route.onlink = true;
    route.encap = netlink::Ip6TunnelEncap{peer.vni, peer.public_ipv6, own_public_ipv6, true};
    return route;
}

}  // namespace

size_t set_ipv6_peers(netlink::Socket& nl, const std::string& ifname,
                      const IpAddress& own_public_ipv6, const std::vector<Ipv6Peer>& peers) {
    auto link = netlink::get_link(nl, netlink::LinkRef(ifname));
    std::set<IpPrefix> wanted_routes;
    std::set<IpAddress> wanted_neighbours;
    for (const auto& peer : peers) {
        wanted_routes.insert(peer.subnet.network());
        wanted_neighbours.insert(peer.subnet.network().address);
    }
    // Written first, then the stale ones deleted: a moved subnet always has a route.
    for (const auto& peer : peers) {
        netlink::replace_neighbour(nl, peer_neighbour(link.index, peer));
        netlink::replace_route(nl, peer_route(link.index, own_public_ipv6, peer));
    }
    for (const auto& route : netlink::list_routes(nl, AF_INET6)) {
        if (ours(route, link.index) && !wanted_routes.contains(route.destination)) {
            netlink::delete_route(nl, route);
        }
    }
    for (const auto& neighbour : netlink::list_neighbours(nl, AF_INET6, link.index)) {
        if ((neighbour.state & NUD_PERMANENT) && !wanted_neighbours.contains(neighbour.address)) {
            netlink::delete_neighbour(nl, neighbour);
        }
    }
    return wanted_routes.size();
}

std::string ipv6_peers_drift(netlink::Socket& nl, const std::string& ifname,
                             const IpAddress& own_public_ipv6, const std::vector<Ipv6Peer>& peers) {
    auto link = netlink::get_link(nl, netlink::LinkRef(ifname));
    std::map<IpPrefix, netlink::Route> routes;
    for (auto& route : netlink::list_routes(nl, AF_INET6)) {
        if (ours(route, link.index)) {
            routes.emplace(route.destination, std::move(route));
        }
    }
    std::map<IpAddress, netlink::Neighbour> neighbours;
    for (auto& neighbour : netlink::list_neighbours(nl, AF_INET6, link.index)) {
        neighbours.emplace(neighbour.address, std::move(neighbour));
    }
    for (const auto& peer : peers) {
        auto wanted = peer_route(link.index, own_public_ipv6, peer);
        auto route = routes.find(wanted.destination);
        if (route == routes.end()) {
            return "IPv6 route to " + wanted.destination.str() + " missing on " + ifname;
        }
        if (route->second.gateway != wanted.gateway || route->second.encap != wanted.encap) {
            return "IPv6 route to " + wanted.destination.str() + " on " + ifname +
                   " changed (gateway or tunnel metadata)";
        }
        routes.erase(route);
        auto gateway = peer_neighbour(link.index, peer);
        auto neighbour = neighbours.find(gateway.address);
        if (neighbour == neighbours.end() || !(neighbour->second.state & NUD_PERMANENT) ||
            neighbour->second.mac != gateway.mac) {
            return "IPv6 neighbour " + gateway.address.str() + " lladdr " + gateway.mac->str() +
                   " missing or changed on " + ifname;
        }
    }
    if (!routes.empty()) {
        return "IPv6 route to " + routes.begin()->first.str() + " on " + ifname + " names no peer";
    }
    return "";
}

std::vector<IpPrefix> ipv6_peer_routes(netlink::Socket& nl, const std::string& ifname) {
    std::vector<IpPrefix> result;
    auto link = netlink::find_link(nl, netlink::LinkRef(ifname));
    if (!link)
        return result;
    for (const auto& route : netlink::list_routes(nl, AF_INET6)) {
        if (ours(route, link->index))
            result.push_back(route.destination);
    }
    std::sort(result.begin(), result.end());
    return result;
}

std::optional<Ipv6OverlayStatus> ipv6_overlay_status(netlink::Socket& nl) {
    for (const auto& link : netlink::list_links(nl)) {
        if (link.name.rfind("shuttle.", 0) != 0 || !link.vxlan) {
            continue;
        }
        for (const auto& address : netlink::list_addresses(nl, AF_INET6, link.index)) {
            if (!is_link_local(address.prefix.address)) {
                return Ipv6OverlayStatus{link.name, address.prefix,
                                         ipv6_peer_routes(nl, link.name)};
            }
        }
    }
    return std::nullopt;
}

}  // namespace shuttle::overlay
