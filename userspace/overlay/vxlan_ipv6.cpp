#include "overlay/vxlan_ipv6.h"

#include <linux/neighbour.h>

#include <algorithm>
#include <cerrno>
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
        auto gateway = peer.subnet.network().address;
        netlink::Neighbour neighbour;
        neighbour.dev = netlink::LinkRef(link.index);
        neighbour.address = gateway;
        neighbour.mac = peer.vtep_mac;
        neighbour.state = NUD_PERMANENT;
        netlink::replace_neighbour(nl, neighbour);
        netlink::Route route;
        route.destination = peer.subnet.network();
        route.gateway = gateway;
        route.dev = netlink::LinkRef(link.index);
        route.onlink = true;
        route.encap = netlink::Ip6TunnelEncap{peer.vni, peer.public_ipv6, own_public_ipv6, true};
        netlink::replace_route(nl, route);
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
