#pragma once

// The node's VXLAN device, owned by shuttled: `shuttle.<VNI>`, external (collect_md) mode,
// flannel's UDP port 8472, learning off, the advertised VtepMAC, MTU = underlay − 50,
// `<subnet>.0/32` as its address, ARP off, and the cluster network routed to it.
//
// Every function acts on the namespace of the netlink socket it is given.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/ip.h"
#include "netlink/link.h"
#include "netlink/socket.h"

namespace shuttle::overlay {

inline constexpr uint32_t kDefaultVni = 1;
inline constexpr uint16_t kDefaultPort = 8472;  // flannel's (the kernel's) default
inline constexpr uint32_t kEncapOverhead = 50;  // outer Ethernet + IPv4 + UDP + VXLAN

struct VxlanDeviceSpec {
    uint32_t vni = kDefaultVni;
    uint16_t port = kDefaultPort;
    netlink::LinkRef underlay{0};  // required: the interface holding public_ip
    IpAddress public_ip{};         // required: the lease's PublicIP, the tunnel's source
                                   // (PublicIPv6 on an IPv6-only network)
    IpPrefix node_subnet{};        // required: the lease, e.g. 10.244.1.0/24
    IpPrefix cluster_network{};    // required: e.g. 10.244.0.0/16, routed to the device
    // false on an IPv6-only network: no IPv4 address or route on the device (node_subnet and
    // cluster_network unused); public_ip is then the PublicIPv6.
    bool ipv4 = true;
    std::optional<uint32_t> mtu{};         // default: underlay MTU − 50
    std::optional<MacAddress> vtep_mac{};  // default: derive_vtep_mac(public_ip, vni)
};

struct VxlanDevice {
    enum class Action { unchanged, created, updated, recreated };

    int index = 0;
    std::string name{};
    MacAddress mac{};
    uint32_t mtu = 0;
    IpPrefix address{};  // <subnet>.0/32
    // What ensure_vxlan_device did. After `created` / `recreated` the ifindex is new, so
    // programs attached to the old device (from-overlay, to-overlay) must be attached again.
    Action action = Action::unchanged;
};

// The device a port conflict or a clash with another VXLAN device prevents from coming up.
// what() says which device holds the port and what to do about it.
class PortConflict : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// ---- pure helpers (no kernel) ----------------------------------------------------------
std::string device_name(uint32_t vni);          // "shuttle.<vni>"
std::string flannel_device_name(uint32_t vni);  // "flannel.<vni>"
uint32_t overlay_mtu(uint32_t underlay_mtu);    // underlay − 50, as flannel
// `<subnet>.0/32`: the lease's network address, as flannel puts it on flannel.<VNI>.
IpPrefix device_address(const IpPrefix& node_subnet);

// A locally administered unicast MAC derived from the public IP and the VNI (FNV-1a), so a
// node that restarts, reboots or recreates its device advertises the same VtepMAC and its
// peers' entries stay valid (flannel's MAC-changes-after-reboot problem).
MacAddress derive_vtep_mac(const IpAddress& public_ip, uint32_t vni);

// What the device must look like (the spec resolved against the underlay).
struct DesiredDevice {
    std::string name{};
    uint16_t port = kDefaultPort;
    IpAddress local{};
    int underlay_index = 0;
    MacAddress mac{};
    uint32_t mtu = 0;
};

// What ensure does with an existing link (nullopt: none). `recreate_reason` is set when a
// setting cannot be changed in place (kind, mode, port, learning, local address, underlay).
struct DevicePlan {
    bool create = false;
    std::string recreate_reason{};
    bool fix_mac = false;
    bool fix_mtu = false;
    bool fix_arp = false;
    bool bring_up = false;

    bool unchanged() const {
        return !create && recreate_reason.empty() && !fix_mac && !fix_mtu && !fix_arp && !bring_up;
    }
};
DevicePlan plan_device(const std::optional<netlink::Link>& existing, const DesiredDevice& desired);

// The text of a PortConflict: `holder` is the device found holding the port, if any.
std::string port_conflict_message(const std::string& device, uint16_t port,
                                  const std::optional<netlink::Link>& holder);

// ---- the device ------------------------------------------------------------------------
// Creates the device or brings an existing one in line: MAC, MTU and ARP are fixed in place
// (no flap); a wrong kind, mode, port, learning, local address or underlay means recreate.
// Then `<subnet>.0/32` (other IPv4 addresses removed), up, and the route
// `<cluster network> dev shuttle.<VNI> scope link src <subnet>.0`. Throws PortConflict
// when another device or socket holds the UDP port (nothing is left behind), else
// netlink::Error / std::invalid_argument.
VxlanDevice ensure_vxlan_device(netlink::Socket& socket, const VxlanDeviceSpec& spec);

// The device as it is now, nullopt when absent.
std::optional<VxlanDevice> find_vxlan_device(netlink::Socket& socket, uint32_t vni);

// Uninstall: deletes shuttle.<VNI> (its addresses and routes go with it). False when absent.
bool delete_vxlan_device(netlink::Socket& socket, uint32_t vni);

// Migration: deletes flannel's flannel.<VNI> and flannel-v6.<VNI> (its dual-stack backend's),
// which, while up on the same port, keep the collect_md device from binding it ("Address
// already in use": a collect_md device opens the port for both families). False when
// neither was there. Stop flanneld first: it recreates them.
bool remove_flannel_device(netlink::Socket& socket, uint32_t vni);

}  // namespace shuttle::overlay
