#pragma once

// IPv6 across nodes on the node's VXLAN device (issue 12 item 3).
//
// shuttle.<VNI> is a collect_md device, and the kernel opens a collect_md device's UDP
// port for both families: it already owns [::]:8472, so neither a flannel-style
// flannel-v6.<VNI> (EADDRINUSE) nor a second collect_md device (the port's packets all go
// to whichever device opened last) can sit beside it. The same device therefore carries
// IPv6, the way flannel-v6.<VNI> does it, by the kernel's routing:
//
//   the device:  IPv6 on, no RA, no DAD; `<IPv6 subnet>::/128` (flannel puts the lease's
//                IPv6 network address on flannel-v6.<VNI>)
//   each peer:   neighbour `<peer IPv6 subnet>:: lladdr <peer v6 VtepMAC> nud permanent`
//                route `<peer IPv6 subnet> via <peer IPv6 subnet>:: dev shuttle.<VNI> onlink
//                encap ip6 id <VNI> src <our PublicIPv6> dst <peer PublicIPv6> csum`
//
// The route's tunnel metadata (LWTUNNEL_ENCAP_IP6) is what the collect_md device sends with,
// with an outer UDP checksum (flannel's v6 device drops zero checksums), the neighbour gives
// the inner destination MAC. Every function acts on the socket's namespace.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "netlink/socket.h"

namespace shuttle::overlay {

struct Ipv6Peer {
    IpPrefix subnet;        // the peer's IPv6 subnet, e.g. fd00:10:244:2::/64
    IpAddress public_ipv6;  // its PublicIPv6
    MacAddress vtep_mac;    // its BackendV6Data VtepMAC
    uint32_t vni = 1;
    auto operator<=>(const Ipv6Peer&) const = default;
};

// `<subnet network>/128`, as flannel addresses flannel-v6.<VNI>.
IpPrefix ipv6_device_address(const IpPrefix& ipv6_subnet);

// IPv6 on the device (sysctls), its /128 address (other global IPv6 addresses, an old
// lease's, removed). Idempotent.
void ensure_ipv6_device(netlink::Socket& nl, const std::string& ifname,
                        const IpPrefix& ipv6_subnet);

// Routes and neighbours on the device become exactly these peers' (stale ones removed).
// Returns how many routes it holds.
size_t set_ipv6_peers(netlink::Socket& nl, const std::string& ifname,
                      const IpAddress& own_public_ipv6, const std::vector<Ipv6Peer>& peers);

// What differs between the device and these peers ("" when nothing): a peer's route missing
// or changed (gateway, tunnel metadata), its neighbour missing, not permanent or with another
// MAC, or a route no peer names. The periodic repair's check (set_ipv6_peers fixes it).
std::string ipv6_peers_drift(netlink::Socket& nl, const std::string& ifname,
                             const IpAddress& own_public_ipv6, const std::vector<Ipv6Peer>& peers);

// The peer routes on the device now (IPv6, with a gateway), for status.
std::vector<IpPrefix> ipv6_peer_routes(netlink::Socket& nl, const std::string& ifname);

// What `shuttlectl status` shows: the first shuttle.<digits> device holding a global IPv6
// address, that address and its peer routes; nullopt when no device carries IPv6.
struct Ipv6OverlayStatus {
    std::string ifname;
    IpPrefix address;
    std::vector<IpPrefix> routes;
};
std::optional<Ipv6OverlayStatus> ipv6_overlay_status(netlink::Socket& nl);

}  // namespace shuttle::overlay
