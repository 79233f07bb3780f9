#include "netlink/route.h"

#include <endian.h>
#include <linux/lwtunnel.h>

#include <cstring>

namespace shuttle::netlink {

namespace {

uint8_t default_scope(const Route& route) {
    return route.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
}

MessageBuilder route_message(uint16_t type, uint16_t flags, const Route& route, int dev_index,
                             uint8_t scope) {
    MessageBuilder message(type, flags);
    rtmsg header{};
    header.rtm_family = static_cast<uint8_t>(route.destination.address.family);
    header.rtm_dst_len = static_cast<uint8_t>(route.destination.length);
    header.rtm_table = route.table < 256 ? static_cast<uint8_t>(route.table)
                                         : static_cast<uint8_t>(RT_TABLE_UNSPEC);
    header.rtm_protocol = route.protocol;
    header.rtm_scope = scope;
    header.rtm_type = route.type;
    header.rtm_flags = route.onlink ? RTNH_F_ONLINK : 0;
    message.add_header(header);
    message.add_u32(RTA_TABLE, route.table);
    if (route.destination.length > 0) {
        message.add_address(RTA_DST, route.destination.network().address);
    }
    if (route.gateway) {
        message.add_address(RTA_GATEWAY, *route.gateway);
    }
    if (dev_index != 0) {
        message.add_u32(RTA_OIF, static_cast<uint32_t>(dev_index));
    }
    if (route.priority) {
        message.add_u32(RTA_PRIORITY, *route.priority);
    }
    if (route.source) {
        message.add_address(RTA_PREFSRC, *route.source);
    }
    if (route.encap) {
        message.add_u16(RTA_ENCAP_TYPE, LWTUNNEL_ENCAP_IP6);
        auto encap = message.nest(RTA_ENCAP);
        uint64_t id = htobe64(route.encap->id);
        message.add(LWTUNNEL_IP6_ID, Bytes(reinterpret_cast<const uint8_t*>(&id), sizeof id));
        message.add_address(LWTUNNEL_IP6_DST, route.encap->dst);
        if (!route.encap->src.empty() && route.encap->src != IpAddress::any(AF_INET6)) {
            message.add_address(LWTUNNEL_IP6_SRC, route.encap->src);
        }
        if (route.encap->csum) {
            message.add_u16(LWTUNNEL_IP6_FLAGS, htobe16(0x01));  // TUNNEL_CSUM
        }
    }
    return message;
}

int dev_index(Socket& socket, const Route& route, const std::string& what) {
    return route.dev ? resolve_link(socket, *route.dev, what).index : 0;
}

void change_route(Socket& socket, const Route& route, uint16_t flags, const char* verb) {
    std::string what = std::string(verb) + " route " + route.str();
    auto message = route_message(RTM_NEWROUTE, flags, route, dev_index(socket, route, what),
                                 route.scope.value_or(default_scope(route)));
    socket.request(message, what);
}

// RTA_ENCAP of an LWTUNNEL_ENCAP_IP6 route, as route_message writes it.
Ip6TunnelEncap parse_ip6_encap(const Attribute& encap) {
    Ip6TunnelEncap result;
    result.csum = false;
    result.src = IpAddress::any(AF_INET6);
    Attributes nested = encap.nested();
    if (auto a = nested.get(LWTUNNEL_IP6_ID); a && a->payload.size() == sizeof(uint64_t)) {
        uint64_t id = 0;
        std::memcpy(&id, a->payload.data(), sizeof id);
        result.id = be64toh(id);
    }
    if (auto a = nested.get(LWTUNNEL_IP6_DST)) {
        result.dst = a->address();
    }
    if (auto a = nested.get(LWTUNNEL_IP6_SRC)) {
        result.src = a->address();
    }
    if (auto a = nested.get(LWTUNNEL_IP6_FLAGS)) {
        result.csum = (be16toh(a->u16()) & 0x01) != 0;  // TUNNEL_CSUM
    }
    return result;
}

}  // namespace

std::string Route::str() const {
    std::string text = destination.length == 0 ? "default" : destination.network().str();
    if (gateway) {
        text += " via " + gateway->str();
    }
    if (dev) {
        text += " dev " + dev->str();
    }
    if (table != RT_TABLE_MAIN) {
        text += " table " + std::to_string(table);
    }
    if (priority) {
        text += " metric " + std::to_string(*priority);
    }
    if (onlink) {
        text += " onlink";
    }
    return text;
}

void add_route(Socket& socket, const Route& route) {
    change_route(socket, route, NLM_F_CREATE | NLM_F_EXCL, "add");
}

void replace_route(Socket& socket, const Route& route) {
    change_route(socket, route, NLM_F_CREATE | NLM_F_REPLACE, "replace");
}

void delete_route(Socket& socket, const Route& route) {
    std::string what = "delete route " + route.str();
    // Unspecified protocol / type and RT_SCOPE_NOWHERE match any, as `ip route del` does.
    Route match = route;
    match.protocol = RTPROT_UNSPEC;
    match.type = RTN_UNSPEC;
    auto message = route_message(RTM_DELROUTE, 0, match, dev_index(socket, route, what),
                                 route.scope.value_or(RT_SCOPE_NOWHERE));
    socket.request(message, what);
}

Route parse_route(const Message& message) {
    auto header = message.family_header<rtmsg>();
    Attributes attributes = message.attributes(sizeof header);
    Route route;
    route.destination.address.family = header.rtm_family;
    route.destination.length = header.rtm_dst_len;
    route.scope = header.rtm_scope;
    route.protocol = header.rtm_protocol;
    route.type = header.rtm_type;
    route.onlink = (header.rtm_flags & RTNH_F_ONLINK) != 0;
    route.table = header.rtm_table;
    if (auto a = attributes.get(RTA_TABLE)) {
        route.table = a->u32();
    }
    if (auto a = attributes.get(RTA_DST)) {
        route.destination.address = a->address();
    }
    if (auto a = attributes.get(RTA_GATEWAY)) {
        route.gateway = a->address();
    }
    if (auto a = attributes.get(RTA_OIF)) {
        route.dev = LinkRef(static_cast<int>(a->u32()));
    }
    if (auto a = attributes.get(RTA_PRIORITY)) {
        route.priority = a->u32();
    }
    if (auto a = attributes.get(RTA_PREFSRC)) {
        route.source = a->address();
    }
    auto encap_type = attributes.get(RTA_ENCAP_TYPE);
    auto encap = attributes.get(RTA_ENCAP);
    if (encap_type && encap && encap_type->u16() == LWTUNNEL_ENCAP_IP6) {
        route.encap = parse_ip6_encap(*encap);
    }
    return route;
}

std::vector<Route> list_routes(Socket& socket, int family, std::optional<uint32_t> table) {
    MessageBuilder message(RTM_GETROUTE, 0);
    rtmsg header{};
    header.rtm_family = static_cast<uint8_t>(family);
    message.add_header(header);
    std::vector<Route> routes;
    for (const auto& reply : socket.dump(message, "list routes")) {
        if (reply.type() != RTM_NEWROUTE) {
            continue;
        }
        Route route = parse_route(reply);
        if (!table || route.table == *table) {
            routes.push_back(route);
        }
    }
    return routes;
}

}  // namespace shuttle::netlink
