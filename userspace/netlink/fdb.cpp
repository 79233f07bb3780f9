#include "netlink/fdb.h"

#include <linux/rtnetlink.h>

#include "netlink/neighbour_message.h"

namespace shuttle::netlink {

namespace {

void change_fdb(Socket& socket, const FdbEntry& entry, uint16_t type, uint16_t flags,
                const char* verb) {
    std::string what = std::string(verb) + " fdb " + entry.str();
    LinkRef dev = resolve_link(socket, entry.dev, what);
    auto message =
        detail::neighbour_message(type, flags, {AF_BRIDGE, dev.index, entry.state, entry.flags});
    message.add_mac(NDA_LLADDR, entry.mac);
    if (entry.destination) {
        message.add_address(NDA_DST, *entry.destination);
    }
    if (entry.vni) {
        message.add_u32(NDA_VNI, *entry.vni);
    }
    socket.request(message, what);
}

}  // namespace

std::string FdbEntry::str() const {
    std::string text = mac.str() + " dev " + dev.str();
    if (destination) {
        text += " dst " + destination->str();
    }
    if (vni) {
        text += " vni " + std::to_string(*vni);
    }
    return text;
}

void add_fdb(Socket& socket, const FdbEntry& entry) {
    change_fdb(socket, entry, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, "add");
}

void append_fdb(Socket& socket, const FdbEntry& entry) {
    change_fdb(socket, entry, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND, "append");
}

void replace_fdb(Socket& socket, const FdbEntry& entry) {
    change_fdb(socket, entry, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, "replace");
}

void delete_fdb(Socket& socket, const FdbEntry& entry) {
    change_fdb(socket, entry, RTM_DELNEIGH, 0, "delete");
}

FdbEntry parse_fdb(const Message& message) {
    auto header = message.family_header<ndmsg>();
    Attributes attributes = message.attributes(sizeof header);
    FdbEntry entry;
    entry.dev = LinkRef(header.ndm_ifindex);
    entry.state = header.ndm_state;
    entry.flags = header.ndm_flags;
    if (auto a = attributes.get(NDA_LLADDR); a && a->payload.size() == 6) {
        entry.mac = a->mac();
    }
    if (auto a = attributes.get(NDA_DST)) {
        entry.destination = a->address();
    }
    if (auto a = attributes.get(NDA_VNI)) {
        entry.vni = a->u32();
    }
    if (auto a = attributes.get(NDA_MASTER)) {
        entry.master = static_cast<int>(a->u32());
    }
    return entry;
}

std::vector<FdbEntry> list_fdb(Socket& socket, int link_index) {
    auto message = detail::neighbour_message(RTM_GETNEIGH, 0, {AF_BRIDGE});
    std::vector<FdbEntry> entries;
    for (const auto& reply : socket.dump(message, "list fdb")) {
        if (reply.type() != RTM_NEWNEIGH) {
            continue;
        }
        FdbEntry entry = parse_fdb(reply);
        if (link_index == 0 || entry.dev.index == link_index) {
            entries.push_back(entry);
        }
    }
    return entries;
}

}  // namespace shuttle::netlink
