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

// A bridge forwarding database entry (AF_BRIDGE). For a VXLAN device, NTF_SELF entries map an
// inner MAC to a remote VTEP: flannel's `bridge fdb add <mac> dev flannel.1 dst <ip> self
// permanent` is FdbEntry{.dev = "flannel.1", .mac = mac, .destination = ip}.
struct FdbEntry {
    LinkRef dev{0};
    MacAddress mac{};
    std::optional<IpAddress> destination{};  // NDA_DST: the remote VTEP
    uint16_t state = NUD_PERMANENT;
    uint8_t flags = NTF_SELF;
    std::optional<uint32_t> vni{};  // NDA_VNI; listed entries of VXLAN devices carry it
    int master = 0;                 // NDA_MASTER in listed entries

    // "aa:bb:cc:dd:ee:ff dev flannel.1 dst 192.168.1.2"
    std::string str() const;
};

// NLM_F_EXCL: throws netlink::Error with EEXIST when the MAC is already there.
void add_fdb(Socket& socket, const FdbEntry& entry);
// NLM_F_APPEND: another destination for the same MAC (VXLAN flooding lists).
void append_fdb(Socket& socket, const FdbEntry& entry);
// NLM_F_REPLACE: create or overwrite (what flannel's NeighSet does).
void replace_fdb(Socket& socket, const FdbEntry& entry);
// Deletes the entry; with a destination set, only that destination.
void delete_fdb(Socket& socket, const FdbEntry& entry);
// link index 0 = all links.
std::vector<FdbEntry> list_fdb(Socket& socket, int link_index = 0);

// Parses one AF_BRIDGE RTM_NEWNEIGH message (exposed for tests).
FdbEntry parse_fdb(const Message& message);

}  // namespace shuttle::netlink
