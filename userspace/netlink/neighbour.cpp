#include "netlink/neighbour.h"

#include <linux/rtnetlink.h>

#include "netlink/neighbour_message.h"

namespace shuttle::netlink {

namespace detail {

MessageBuilder neighbour_message(uint16_t type, uint16_t flags, const NeighbourHeader& header) {
    MessageBuilder message(type, flags);
    ndmsg nd{};
    nd.ndm_family = header.family;
    nd.ndm_ifindex = header.index;
    nd.ndm_state = header.state;
    nd.ndm_flags = header.flags;
    message.add_header(nd);
    return message;
}

}  // namespace detail

namespace {

void change_neighbour(Socket& socket, const Neighbour& neighbour, uint16_t type, uint16_t flags,
                      const char* verb) {
    std::string what = std::string(verb) + " neighbour " + neighbour.str();
    LinkRef dev = resolve_link(socket, neighbour.dev, what);
    auto message = detail::neighbour_message(type, flags,
                                             {static_cast<uint8_t>(neighbour.address.family),
                                              dev.index, neighbour.state, neighbour.flags});
    message.add_address(NDA_DST, neighbour.address);
    if (neighbour.mac && type != RTM_DELNEIGH) {
        message.add_mac(NDA_LLADDR, *neighbour.mac);
    }
    socket.request(message, what);
}

}  // namespace

std::string Neighbour::str() const {
    std::string text = address.str();
    if (mac) {
        text += " lladdr " + mac->str();
    }
    return text + " dev " + dev.str();
}

void add_neighbour(Socket& socket, const Neighbour& neighbour) {
    change_neighbour(socket, neighbour, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, "add");
}

void replace_neighbour(Socket& socket, const Neighbour& neighbour) {
    change_neighbour(socket, neighbour, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, "replace");
}

void delete_neighbour(Socket& socket, const Neighbour& neighbour) {
    change_neighbour(socket, neighbour, RTM_DELNEIGH, 0, "delete");
}

Neighbour parse_neighbour(const Message& message) {
    auto header = message.family_header<ndmsg>();
    Attributes attributes = message.attributes(sizeof header);
    Neighbour neighbour;
    neighbour.dev = LinkRef(header.ndm_ifindex);
    neighbour.state = header.ndm_state;
    neighbour.flags = header.ndm_flags;
    if (auto a = attributes.get(NDA_DST)) {
        neighbour.address = a->address();
    }
    if (auto a = attributes.get(NDA_LLADDR); a && a->payload.size() == 6) {
        neighbour.mac = a->mac();
    }
    return neighbour;
}

std::vector<Neighbour> list_neighbours(Socket& socket, int family, int link_index) {
    auto message = detail::neighbour_message(RTM_GETNEIGH, 0, {static_cast<uint8_t>(family)});
    std::vector<Neighbour> neighbours;
    for (const auto& reply : socket.dump(message, "list neighbours")) {
        if (reply.type() != RTM_NEWNEIGH) {
            continue;
        }
        auto header = reply.family_header<ndmsg>();
        bool ip_family = header.ndm_family == AF_INET || header.ndm_family == AF_INET6;
        if (!ip_family || (link_index != 0 && header.ndm_ifindex != link_index)) {
            continue;
        }
        neighbours.push_back(parse_neighbour(reply));
    }
    return neighbours;
}

}  // namespace shuttle::netlink
