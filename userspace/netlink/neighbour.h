#pragma once

#include <linux/neighbour.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "netlink/link.h"
#include "netlink/socket.h"

namespace shuttle::netlink {

// An ARP / NDP entry (AF_INET / AF_INET6).
struct Neighbour {
    LinkRef dev{0};
    IpAddress address{};
    std::optional<MacAddress> mac{};  // NDA_LLADDR; absent for incomplete / failed entries
    uint16_t state = NUD_PERMANENT;
    uint8_t flags = 0;  // NTF_*

    // "10.244.1.0 lladdr aa:bb:cc:dd:ee:ff dev flannel.1"
    std::string str() const;
};

// Throws netlink::Error with EEXIST when an entry for the address exists on dev.
void add_neighbour(Socket& socket, const Neighbour& neighbour);
void replace_neighbour(Socket& socket, const Neighbour& neighbour);
void delete_neighbour(Socket& socket, const Neighbour& neighbour);
// family AF_INET / AF_INET6 / AF_UNSPEC (both); link index 0 = all links.
std::vector<Neighbour> list_neighbours(Socket& socket, int family = AF_UNSPEC, int link_index = 0);

// Parses one RTM_NEWNEIGH message (exposed for tests).
Neighbour parse_neighbour(const Message& message);

}  // namespace shuttle::netlink
