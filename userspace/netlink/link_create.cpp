// Creating links: veth pairs, bridges, VXLAN devices.

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "netlink/link.h"
#include "netlink/link_message.h"

namespace shuttle::netlink {

using detail::add_link_settings;

namespace {

MessageBuilder create_message(const LinkSettings& settings) {
    MessageBuilder message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    ifinfomsg header{};
    header.ifi_family = AF_UNSPEC;
    message.add_header(header);
    add_link_settings(message, settings);
    return message;
}

std::string or_auto(const std::string& name) {
    return name.empty() ? "(auto)" : name;
}

std::string describe_veth(const VethSpec& spec) {
    std::string text =
        "create veth " + or_auto(spec.local.name) + " peer " + or_auto(spec.peer.name);
    if (spec.peer_netns_fd >= 0) {
        text += " in netns fd " + std::to_string(spec.peer_netns_fd);
    }
    return text;
}

// VETH_INFO_PEER carries a whole ifinfomsg followed by the peer's own attributes.
void add_veth_peer(MessageBuilder& message, const VethSpec& spec) {
    auto peer = message.nest(VETH_INFO_PEER);
    ifinfomsg header{};
    header.ifi_family = AF_UNSPEC;
    message.add_header(header);
    add_link_settings(message, spec.peer);
    if (spec.peer_netns_fd >= 0) {
        message.add_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(spec.peer_netns_fd));
    }
}

void add_vxlan_data(MessageBuilder& message, const VxlanSpec& spec, int underlay_index) {
    if (spec.vni) {
        message.add_u32(IFLA_VXLAN_ID, *spec.vni);
    }
    if (spec.external) {
        message.add_u8(IFLA_VXLAN_COLLECT_METADATA, 1);
    }
    message.add_u16(IFLA_VXLAN_PORT, htons(spec.port));
    message.add_u8(IFLA_VXLAN_LEARNING, spec.learning ? 1 : 0);
    if (spec.local) {
        message.add_address(spec.local->is_v4() ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6,
                            *spec.local);
    }
    if (underlay_index != 0) {
        message.add_u32(IFLA_VXLAN_LINK, static_cast<uint32_t>(underlay_index));
    }
}

std::string describe_vxlan(const VxlanSpec& spec) {
    std::string text = "create vxlan " + or_auto(spec.link.name);
    text += spec.external ? " external" : " id " + (spec.vni ? std::to_string(*spec.vni) : "?");
    text += " dstport " + std::to_string(spec.port);
    if (spec.local) {
        text += " local " + spec.local->str();
    }
    if (spec.underlay) {
        text += " dev " + spec.underlay->str();
    }
    return text;
}

}  // namespace

void create_veth(Socket& socket, const VethSpec& spec) {
    auto message = create_message(spec.local);
    {
        auto link_info = message.nest(IFLA_LINKINFO);
        message.add_string(IFLA_INFO_KIND, "veth");
        auto data = message.nest(IFLA_INFO_DATA);
        add_veth_peer(message, spec);
    }
    socket.request(message, describe_veth(spec));
}

void create_bridge(Socket& socket, const LinkSettings& settings) {
    auto message = create_message(settings);
    {
        auto link_info = message.nest(IFLA_LINKINFO);
        message.add_string(IFLA_INFO_KIND, "bridge");
    }
    socket.request(message, "create bridge " + or_auto(settings.name));
}

void create_vxlan(Socket& socket, const VxlanSpec& spec) {
    std::string what = describe_vxlan(spec);
    int underlay_index = spec.underlay ? resolve_link(socket, *spec.underlay, what).index : 0;
    auto message = create_message(spec.link);
    {
        auto link_info = message.nest(IFLA_LINKINFO);
        message.add_string(IFLA_INFO_KIND, "vxlan");
        auto data = message.nest(IFLA_INFO_DATA);
        add_vxlan_data(message, spec, underlay_index);
    }
    socket.request(message, what);
}

}  // namespace shuttle::netlink
