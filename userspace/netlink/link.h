#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "netlink/socket.h"

namespace shuttle::netlink {

// Names a link by interface index, by name, or both. Implicit from either, so
// set_link_up(nl, "eth0") and set_link_up(nl, link.index) both read well.
struct LinkRef {
    int index = 0;       // 0 = unknown
    std::string name{};  // empty = unknown

    LinkRef(int index_) : index(index_) {}
    LinkRef(std::string name_) : name(std::move(name_)) {}
    LinkRef(const char* name_) : name(name_) {}
    LinkRef(int index_, std::string name_) : index(index_), name(std::move(name_)) {}

    // For messages: the name when known, else "ifindex N".
    std::string str() const;
};

// VXLAN settings as the kernel reports them.
struct VxlanInfo {
    std::optional<uint32_t> vni{};
    bool external = false;  // collect_md
    uint16_t port = 0;      // destination UDP port, host order
    bool learning = false;
    std::optional<IpAddress> local{};
    int underlay_index = 0;
};

// A link as RTM_GETLINK reports it.
struct Link {
    int index = 0;
    std::string name{};
    std::optional<MacAddress> mac{};  // absent for links without a 6-byte address
    uint32_t mtu = 0;
    uint32_t flags = 0;      // IFF_UP, IFF_LOWER_UP, ...
    uint16_t type = 0;       // ARPHRD_ETHER, ARPHRD_NONE (tun, wireguard), ...
    uint8_t oper_state = 0;  // IF_OPER_UP, IF_OPER_DOWN, ...
    std::string kind{};      // "veth", "bridge", "vxlan"; empty for loopback / physical
    int master = 0;          // index of the bridge this link is enslaved to, 0 = none
    // IFLA_LINK: a veth's peer index or a VXLAN's underlay index; 0 = none. When
    // link_netnsid is set, the index is in that other namespace.
    int parent = 0;
    // IFLA_LINK_NETNSID: the id, as seen from this namespace, of the namespace holding the peer.
    std::optional<int> link_netnsid{};
    std::optional<VxlanInfo> vxlan{};  // set when kind == "vxlan"
    uint32_t tx_queues = 0;            // IFLA_NUM_TX_QUEUES: allocated, not only in use
    uint32_t rx_queues = 0;            // IFLA_NUM_RX_QUEUES

    // Defined in link.cpp so this header includes neither <linux/if.h> nor <net/if.h>: the
    // two clash unless included in one order, which is the includer's choice.
    bool up() const;        // IFF_UP
    bool lower_up() const;  // IFF_LOWER_UP: carrier
    bool arp() const;       // IFF_NOARP clear
    bool ethernet() const;  // ARPHRD_ETHER: frames carry an Ethernet header
};

// Name / MTU / MAC for a link being created; unset fields take the kernel's defaults.
struct LinkSettings {
    std::string name{};  // empty: the kernel picks one (vethN, ...)
    std::optional<uint32_t> mtu{};
    std::optional<MacAddress> mac{};
    // Transmit and receive queues at creation. veth allocates one per possible CPU and trims
    // to one after registering them in sysfs; asking for one skips that work.
    std::optional<uint32_t> queues{};
};

struct VethSpec {
    LinkSettings local{};  // the end that stays in the socket's namespace
    LinkSettings peer{};
    int peer_netns_fd = -1;  // -1: peer stays here too; else created straight in that netns
};

struct VxlanSpec {
    LinkSettings link{};
    std::optional<uint32_t> vni{};  // required unless external
    bool external = false;          // collect_md: the tunnel key comes from BPF / metadata
    uint16_t port = 8472;           // destination UDP port (flannel's default, host order)
    bool learning = false;
    std::optional<IpAddress> local{};   // source address for the underlay
    std::optional<LinkRef> underlay{};  // device for the underlay
};

// ---- create / delete -------------------------------------------------------------------
void create_veth(Socket& socket, const VethSpec& spec);
void create_bridge(Socket& socket, const LinkSettings& settings);
void create_vxlan(Socket& socket, const VxlanSpec& spec);
void delete_link(Socket& socket, const LinkRef& link);

// ---- change ----------------------------------------------------------------------------
void rename_link(Socket& socket, const LinkRef& link, const std::string& new_name);
void set_link_up(Socket& socket, const LinkRef& link);
void set_link_down(Socket& socket, const LinkRef& link);
// Turns ARP on or off (IFF_NOARP), like `ip link set <link> arp on|off`.
void set_link_arp(Socket& socket, const LinkRef& link, bool on);
void set_link_mtu(Socket& socket, const LinkRef& link, uint32_t mtu);
void set_link_mac(Socket& socket, const LinkRef& link, const MacAddress& mac);
// Enslaves `link` to the bridge `master`; set_link_nomaster releases it.
void set_link_master(Socket& socket, const LinkRef& link, const LinkRef& master);
void set_link_nomaster(Socket& socket, const LinkRef& link);
// Moves the link into the namespace behind `netns_fd`, renaming it there if new_name is set.
// After the move this socket no longer sees the link.
void move_link_to_netns(Socket& socket, const LinkRef& link, int netns_fd,
                        const std::string& new_name = "");

// ---- look up ---------------------------------------------------------------------------
// Throws netlink::Error with ENODEV when the link does not exist.
Link get_link(Socket& socket, const LinkRef& link);
// nullopt when the link does not exist.
std::optional<Link> find_link(Socket& socket, const LinkRef& link);
std::vector<Link> list_links(Socket& socket);

// Both index and name of `link`, looking it up only when one is missing. A failed lookup
// throws netlink::Error whose operation text is `what`.
LinkRef resolve_link(Socket& socket, const LinkRef& link, const std::string& what);

// Parses one RTM_NEWLINK message (exposed for tests).
Link parse_link(const Message& message);

}  // namespace shuttle::netlink
