#pragma once

#include <linux/rtnetlink.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip.h"
#include "netlink/link.h"
#include "netlink/socket.h"

namespace shuttle::netlink {

struct AddressOptions {
    uint8_t scope = RT_SCOPE_UNIVERSE;  // RT_SCOPE_LINK, RT_SCOPE_HOST, ...
    bool noprefixroute = false;         // IFA_F_NOPREFIXROUTE: no route for the prefix
    bool nodad = false;                 // IFA_F_NODAD (IPv6): usable at once, no DAD
};

// An address as RTM_GETADDR reports it.
struct Address {
    int index = 0;      // the link's index
    IpPrefix prefix{};  // IFA_LOCAL (IFA_ADDRESS for IPv6) with its prefix length
    uint8_t scope = 0;
    uint32_t flags = 0;   // IFA_F_*, from IFA_FLAGS when present
    std::string label{};  // IFA_LABEL (IPv4 only)
};

// `prefix` keeps its host bits: add_address(nl, "eth0", 10.244.1.5/24). IPv4 addresses
// with a prefix shorter than /31 get the prefix's broadcast address, like `ip addr add
// ... brd +`. Throws netlink::Error with EEXIST when the address is already there.
void add_address(Socket& socket, const LinkRef& link, const IpPrefix& prefix,
                 const AddressOptions& options = {});
void delete_address(Socket& socket, const LinkRef& link, const IpPrefix& prefix);
// family: AF_INET, AF_INET6 or AF_UNSPEC (both); link index 0 = all links.
std::vector<Address> list_addresses(Socket& socket, int family = AF_UNSPEC, int link_index = 0);

// Parses one RTM_NEWADDR message (exposed for tests).
Address parse_address(const Message& message);

}  // namespace shuttle::netlink
