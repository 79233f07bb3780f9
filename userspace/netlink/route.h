#pragma once

#include <linux/rtnetlink.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "netlink/link.h"
#include "netlink/socket.h"

namespace shuttle::netlink {

// Lightweight tunnel metadata of an IPv6 route (LWTUNNEL_ENCAP_IP6, `encap ip6 id ... dst ...`):
// what a collect_md tunnel device (shuttle.<VNI>) sends a routed packet with. Listed routes
// carry it back (parse_route), so a route whose metadata was changed can be told apart.
struct Ip6TunnelEncap {
    uint64_t id = 0;   // the VNI
    IpAddress dst{};   // the outer destination (IPv6)
    IpAddress src{};   // the outer source; :: = the kernel's route chooses
    bool csum = true;  // TUNNEL_CSUM: an outer UDP checksum (IPv6 receivers need one)
    bool operator==(const Ip6TunnelEncap&) const = default;
};

// A route to add / replace / delete, and as RTM_GETROUTE reports it.
struct Route {
    IpPrefix destination{};  // 0.0.0.0/0 or ::/0 for a default route
    std::optional<IpAddress> gateway{};
    std::optional<LinkRef> dev{};  // listed routes carry the index only
    uint32_t table = RT_TABLE_MAIN;
    // Unset when adding: RT_SCOPE_LINK without a gateway, RT_SCOPE_UNIVERSE with one
    // (as `ip route` does). Always set in listed routes.
    std::optional<uint8_t> scope{};
    std::optional<uint32_t> priority{};  // the metric
    bool onlink = false;                 // RTNH_F_ONLINK: gateway reachable on dev without a route
    std::optional<IpAddress> source{};   // RTA_PREFSRC
    uint8_t protocol = RTPROT_BOOT;
    uint8_t type = RTN_UNICAST;
    // LWTUNNEL_ENCAP_IP6 only: a listed route with another encap type has none here.
    std::optional<Ip6TunnelEncap> encap{};

    // "10.244.1.0/24 via 10.244.0.1 dev eth0 table 100 metric 5 onlink"
    std::string str() const;
};

// Throws netlink::Error with EEXIST when the route exists.
void add_route(Socket& socket, const Route& route);
// Creates the route or replaces the one with the same destination / table / priority.
void replace_route(Socket& socket, const Route& route);
// Matches on destination, table and whatever else is set (gateway, dev, priority, scope);
// protocol and type are ignored.
void delete_route(Socket& socket, const Route& route);
// family: AF_INET or AF_INET6 (AF_UNSPEC: both); table nullopt: every table.
std::vector<Route> list_routes(Socket& socket, int family = AF_UNSPEC,
                               std::optional<uint32_t> table = RT_TABLE_MAIN);

// Parses one RTM_NEWROUTE message (exposed for tests).
Route parse_route(const Message& message);

}  // namespace shuttle::netlink
