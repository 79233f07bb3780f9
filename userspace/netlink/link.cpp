#include "netlink/link.h"

#include <linux/if.h>
#include <linux/if_arp.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cerrno>

#include "netlink/error.h"
#include "netlink/link_message.h"

namespace shuttle::netlink {

namespace detail {

MessageBuilder link_message(uint16_t type, uint16_t flags, const LinkRef& link, uint32_t ifi_flags,
                            uint32_t ifi_change) {
    MessageBuilder message(type, flags);
    ifinfomsg header{};
    header.ifi_family = AF_UNSPEC;
    header.ifi_index = link.index;
    header.ifi_flags = ifi_flags;
    header.ifi_change = ifi_change;
    message.add_header(header);
    if (link.index == 0 && !link.name.empty()) {
        message.add_string(IFLA_IFNAME, link.name);
    }
    return message;
}

void add_link_settings(MessageBuilder& message, const LinkSettings& settings) {
    if (!settings.name.empty()) {
        message.add_string(IFLA_IFNAME, settings.name);
    }
    if (settings.mtu) {
        message.add_u32(IFLA_MTU, *settings.mtu);
    }
    if (settings.mac) {
        message.add_mac(IFLA_ADDRESS, *settings.mac);
    }
    if (settings.queues) {
        message.add_u32(IFLA_NUM_TX_QUEUES, *settings.queues);
        message.add_u32(IFLA_NUM_RX_QUEUES, *settings.queues);
    }
}

}  // namespace detail

using detail::link_message;

namespace {

// RTM_NEWLINK without NLM_F_CREATE changes an existing link, as `ip link set` does.
MessageBuilder change_message(const LinkRef& link) {
    return link_message(RTM_NEWLINK, 0, link);
}

void set_flags(Socket& socket, const LinkRef& link, uint32_t flags, uint32_t mask,
               const std::string& what) {
    auto message = link_message(RTM_NEWLINK, 0, link, flags, mask);
    socket.request(message, what);
}

VxlanInfo parse_vxlan(const Attributes& data) {
    VxlanInfo info;
    if (auto a = data.get(IFLA_VXLAN_ID)) {
        info.vni = a->u32();
    }
    if (auto a = data.get(IFLA_VXLAN_COLLECT_METADATA)) {
        info.external = a->u8() != 0;
    }
    if (auto a = data.get(IFLA_VXLAN_PORT)) {
        info.port = ntohs(a->u16());
    }
    if (auto a = data.get(IFLA_VXLAN_LEARNING)) {
        info.learning = a->u8() != 0;
    }
    if (auto a = data.get(IFLA_VXLAN_LOCAL)) {
        info.local = a->address();
    } else if (auto a6 = data.get(IFLA_VXLAN_LOCAL6)) {
        info.local = a6->address();
    }
    if (auto a = data.get(IFLA_VXLAN_LINK)) {
        info.underlay_index = static_cast<int>(a->u32());
    }
    return info;
}

void parse_link_info(const Attribute& link_info, Link& link) {
    Attributes info = link_info.nested();
    if (auto kind = info.get(IFLA_INFO_KIND)) {
        link.kind = kind->str();
    }
    auto data = info.get(IFLA_INFO_DATA);
    if (link.kind == "vxlan" && data) {
        link.vxlan = parse_vxlan(data->nested());
    }
}

}  // namespace

bool Link::up() const {
    return (flags & IFF_UP) != 0;
}

bool Link::lower_up() const {
    return (flags & IFF_LOWER_UP) != 0;
}

bool Link::arp() const {
    return (flags & IFF_NOARP) == 0;
}

bool Link::ethernet() const {
    return type == ARPHRD_ETHER;
}

std::string LinkRef::str() const {
    return name.empty() ? "ifindex " + std::to_string(index) : name;
}

Link parse_link(const Message& message) {
    auto header = message.family_header<ifinfomsg>();
    Link link;
    link.index = header.ifi_index;
    link.flags = header.ifi_flags;
    link.type = header.ifi_type;
    Attributes attributes = message.attributes(sizeof header);
    if (auto a = attributes.get(IFLA_IFNAME)) {
        link.name = a->str();
    }
    if (auto a = attributes.get(IFLA_ADDRESS); a && a->payload.size() == 6) {
        link.mac = a->mac();
    }
    if (auto a = attributes.get(IFLA_MTU)) {
        link.mtu = a->u32();
    }
    if (auto a = attributes.get(IFLA_OPERSTATE)) {
        link.oper_state = a->u8();
    }
    if (auto a = attributes.get(IFLA_MASTER)) {
        link.master = static_cast<int>(a->u32());
    }
    if (auto a = attributes.get(IFLA_LINK)) {
        link.parent = static_cast<int>(a->u32());
    }
    if (auto a = attributes.get(IFLA_NUM_TX_QUEUES)) {
        link.tx_queues = a->u32();
    }
    if (auto a = attributes.get(IFLA_NUM_RX_QUEUES)) {
        link.rx_queues = a->u32();
    }
    if (auto a = attributes.get(IFLA_LINK_NETNSID)) {
        link.link_netnsid = a->s32();
    }
    if (auto a = attributes.get(IFLA_LINKINFO)) {
        parse_link_info(*a, link);
    }
    return link;
}

void delete_link(Socket& socket, const LinkRef& link) {
    auto message = link_message(RTM_DELLINK, 0, link);
    socket.request(message, "delete link " + link.str());
}

void rename_link(Socket& socket, const LinkRef& link, const std::string& new_name) {
    std::string what = "rename link " + link.str() + " to " + new_name;
    LinkRef target = resolve_link(socket, link, what);
    auto message = change_message(target.index);
    message.add_string(IFLA_IFNAME, new_name);
    socket.request(message, what);
}

void set_link_up(Socket& socket, const LinkRef& link) {
    set_flags(socket, link, IFF_UP, IFF_UP, "set link " + link.str() + " up");
}

void set_link_down(Socket& socket, const LinkRef& link) {
    set_flags(socket, link, 0, IFF_UP, "set link " + link.str() + " down");
}

void set_link_arp(Socket& socket, const LinkRef& link, bool on) {
    set_flags(socket, link, on ? 0 : IFF_NOARP, IFF_NOARP,
              "set link " + link.str() + " arp " + (on ? "on" : "off"));
}

void set_link_mtu(Socket& socket, const LinkRef& link, uint32_t mtu) {
    auto message = change_message(link);
    message.add_u32(IFLA_MTU, mtu);
    socket.request(message, "set link " + link.str() + " mtu " + std::to_string(mtu));
}

void set_link_mac(Socket& socket, const LinkRef& link, const MacAddress& mac) {
    auto message = change_message(link);
    message.add_mac(IFLA_ADDRESS, mac);
    socket.request(message, "set link " + link.str() + " address " + mac.str());
}

void set_link_master(Socket& socket, const LinkRef& link, const LinkRef& master) {
    std::string what = "set link " + link.str() + " master " + master.str();
    LinkRef bridge = resolve_link(socket, master, what);
    auto message = change_message(link);
    message.add_u32(IFLA_MASTER, static_cast<uint32_t>(bridge.index));
    socket.request(message, what);
}

void set_link_nomaster(Socket& socket, const LinkRef& link) {
    auto message = change_message(link);
    message.add_u32(IFLA_MASTER, 0);
    socket.request(message, "set link " + link.str() + " nomaster");
}

void move_link_to_netns(Socket& socket, const LinkRef& link, int netns_fd,
                        const std::string& new_name) {
    std::string what = "move link " + link.str() + " to netns fd " + std::to_string(netns_fd);
    if (!new_name.empty()) {
        what += " as " + new_name;
    }
    // With a new name, IFLA_IFNAME is the new name, so the link must be addressed by index.
    LinkRef target = new_name.empty() ? link : resolve_link(socket, link, what);
    auto message = change_message(new_name.empty() ? target : LinkRef(target.index));
    message.add_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
    if (!new_name.empty()) {
        message.add_string(IFLA_IFNAME, new_name);
    }
    socket.request(message, what);
}

Link get_link(Socket& socket, const LinkRef& link) {
    auto message = link_message(RTM_GETLINK, 0, link);
    auto replies = socket.request(message, "look up link " + link.str());
    if (replies.empty()) {
        throw Error(ENODEV, "look up link " + link.str());
    }
    return parse_link(replies.front());
}

std::optional<Link> find_link(Socket& socket, const LinkRef& link) {
    try {
        return get_link(socket, link);
    } catch (const Error& e) {
        if (e.errno_value() == ENODEV) {
            return std::nullopt;
        }
        throw;
    }
}

std::vector<Link> list_links(Socket& socket) {
    MessageBuilder message(RTM_GETLINK, 0);
    ifinfomsg header{};
    header.ifi_family = AF_UNSPEC;
    message.add_header(header);
    std::vector<Link> links;
    for (const auto& reply : socket.dump(message, "list links")) {
        if (reply.type() == RTM_NEWLINK) {
            links.push_back(parse_link(reply));
        }
    }
    return links;
}

LinkRef resolve_link(Socket& socket, const LinkRef& link, const std::string& what) {
    if (link.index != 0 && !link.name.empty()) {
        return link;
    }
    try {
        Link found = get_link(socket, link);
        return LinkRef(found.index, found.name);
    } catch (const Error& e) {
        throw Error(e.errno_value(), what, e.kernel_message());
    }
}

}  // namespace shuttle::netlink
