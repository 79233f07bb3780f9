#include "netlink/address.h"

#include <linux/if_addr.h>

namespace shuttle::netlink {

namespace {

std::string describe(const char* verb, const LinkRef& link, const IpPrefix& prefix) {
    return std::string(verb) + " address " + prefix.str() + " dev " + link.str();
}

IpAddress broadcast_of(const IpPrefix& prefix) {
    uint32_t host_bits = prefix.length == 0 ? 0xffffffffu : (1u << (32 - prefix.length)) - 1;
    return IpAddress::v4(prefix.address.v4_host_order() | host_bits);
}

MessageBuilder address_message(uint16_t type, uint16_t flags, int index, const IpPrefix& prefix,
                               uint8_t scope) {
    MessageBuilder message(type, flags);
    ifaddrmsg header{};
    header.ifa_family = static_cast<uint8_t>(prefix.address.family);
    header.ifa_prefixlen = static_cast<uint8_t>(prefix.length);
    header.ifa_scope = scope;
    header.ifa_index = static_cast<uint32_t>(index);
    message.add_header(header);
    message.add_address(IFA_LOCAL, prefix.address);
    message.add_address(IFA_ADDRESS, prefix.address);
    return message;
}

uint32_t address_flags(const AddressOptions& options) {
    uint32_t flags = 0;
    if (options.noprefixroute) {
        flags |= IFA_F_NOPREFIXROUTE;
    }
    if (options.nodad) {
        flags |= IFA_F_NODAD;
    }
    return flags;
}

}  // namespace

void add_address(Socket& socket, const LinkRef& link, const IpPrefix& prefix,
                 const AddressOptions& options) {
    std::string what = describe("add", link, prefix);
    LinkRef target = resolve_link(socket, link, what);
    auto message = address_message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, target.index, prefix,
                                   options.scope);
    if (prefix.address.is_v4() && prefix.length < 31) {
        message.add_address(IFA_BROADCAST, broadcast_of(prefix));
    }
    if (uint32_t flags = address_flags(options)) {
        message.add_u32(IFA_FLAGS, flags);
    }
    socket.request(message, what);
}

void delete_address(Socket& socket, const LinkRef& link, const IpPrefix& prefix) {
    std::string what = describe("delete", link, prefix);
    LinkRef target = resolve_link(socket, link, what);
    auto message = address_message(RTM_DELADDR, 0, target.index, prefix, 0);
    socket.request(message, what);
}

Address parse_address(const Message& message) {
    auto header = message.family_header<ifaddrmsg>();
    Attributes attributes = message.attributes(sizeof header);
    Address address;
    address.index = static_cast<int>(header.ifa_index);
    address.scope = header.ifa_scope;
    address.flags = header.ifa_flags;
    auto local = attributes.get(IFA_LOCAL);
    if (!local) {
        local = attributes.get(IFA_ADDRESS);
    }
    if (local) {
        address.prefix = IpPrefix{local->address(), header.ifa_prefixlen};
    }
    if (auto flags = attributes.get(IFA_FLAGS)) {
        address.flags = flags->u32();
    }
    if (auto label = attributes.get(IFA_LABEL)) {
        address.label = label->str();
    }
    return address;
}

std::vector<Address> list_addresses(Socket& socket, int family, int link_index) {
    MessageBuilder message(RTM_GETADDR, 0);
    ifaddrmsg header{};
    header.ifa_family = static_cast<uint8_t>(family);
    message.add_header(header);
    std::vector<Address> addresses;
    for (const auto& reply : socket.dump(message, "list addresses")) {
        if (reply.type() != RTM_NEWADDR) {
            continue;
        }
        Address address = parse_address(reply);
        if (link_index == 0 || address.index == link_index) {
            addresses.push_back(address);
        }
    }
    return addresses;
}

}  // namespace shuttle::netlink
