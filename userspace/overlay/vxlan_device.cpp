#include "overlay/vxlan_device.h"

#include <linux/rtnetlink.h>

#include <cerrno>

#include "netlink/address.h"
#include "netlink/error.h"
#include "netlink/route.h"

namespace shuttle::overlay {

namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

uint64_t fnv1a(uint64_t hash, uint8_t byte) {
    return (hash ^ byte) * kFnvPrime;
}

void validate(const VxlanDeviceSpec& spec) {
    auto fail = [](const std::string& text) {
        throw std::invalid_argument("vxlan device: " + text);
    };
    if (spec.vni == 0 || spec.vni > 0xffffff) {
        fail("VNI " + std::to_string(spec.vni) + " is not in 1..16777215");
    }
    if (spec.port == 0) {
        fail("UDP port 0");
    }
    if (spec.underlay.index == 0 && spec.underlay.name.empty()) {
        fail("no underlay interface");
    }
    if (!spec.ipv4) {
        if (spec.public_ip.empty() || spec.public_ip.is_v4()) {
            fail("an IPv6-only device needs an IPv6 public address");
        }
        return;
    }
    if (!spec.public_ip.is_v4()) {
        fail("public IP must be an IPv4 address");
    }
    if (!spec.node_subnet.address.is_v4() || !spec.cluster_network.address.is_v4()) {
        fail("node subnet and cluster network must be IPv4 prefixes");
    }
    if (!spec.cluster_network.contains(spec.node_subnet)) {
        fail("node subnet " + spec.node_subnet.str() + " is outside the cluster network " +
             spec.cluster_network.str());
    }
}

DesiredDevice resolve(netlink::Socket& socket, const VxlanDeviceSpec& spec) {
    std::string name = device_name(spec.vni);
    netlink::Link underlay = netlink::get_link(socket, spec.underlay);
    uint32_t mtu = spec.mtu.value_or(overlay_mtu(underlay.mtu));
    if (mtu < 68) {
        throw std::invalid_argument("vxlan device " + name + ": MTU " + std::to_string(mtu) +
                                    " is below IPv4's minimum of 68");
    }
    return {.name = name,
            .port = spec.port,
            .local = spec.public_ip,
            .underlay_index = underlay.index,
            .mac = spec.vtep_mac.value_or(derive_vtep_mac(spec.public_ip, spec.vni)),
            .mtu = mtu};
}

// Another VXLAN device that keeps ours from binding the port: one that is up on the same
// port, or an external one on the same port (one collect_md device per port and namespace).
std::optional<netlink::Link> find_port_holder(netlink::Socket& socket, const std::string& name,
                                              uint16_t port) {
    for (auto& link : netlink::list_links(socket)) {
        if (link.name == name || !link.vxlan || link.vxlan->port != port) {
            continue;
        }
        if (link.up() || link.vxlan->external) {
            return link;
        }
    }
    return std::nullopt;
}

void create(netlink::Socket& socket, const DesiredDevice& desired) {
    if (auto holder = find_port_holder(socket, desired.name, desired.port)) {
        throw PortConflict(port_conflict_message(desired.name, desired.port, holder));
    }
    netlink::create_vxlan(socket, {.link = {desired.name, desired.mtu, desired.mac},
                                   .external = true,
                                   .port = desired.port,
                                   .learning = false,
                                   .local = desired.local,
                                   .underlay = netlink::LinkRef(desired.underlay_index)});
}

void bring_up(netlink::Socket& socket, const DesiredDevice& desired, bool created_now) {
    try {
        netlink::set_link_up(socket, desired.name);
    } catch (const netlink::Error& e) {
        if (e.errno_value() != EADDRINUSE) {
            throw;
        }
        if (created_now) {
            netlink::delete_link(socket, desired.name);
        }
        throw PortConflict(port_conflict_message(
            desired.name, desired.port, find_port_holder(socket, desired.name, desired.port)));
    }
}

void ensure_address(netlink::Socket& socket, const netlink::LinkRef& link, const IpPrefix& wanted) {
    bool present = false;
    for (const auto& address : netlink::list_addresses(socket, AF_INET, link.index)) {
        if (address.prefix == wanted) {
            present = true;
        } else {
            netlink::delete_address(socket, link, address.prefix);  // an old lease's
        }
    }
    if (!present) {
        netlink::add_address(socket, link, wanted);
    }
}

netlink::Route cluster_route(const netlink::LinkRef& link, const IpPrefix& cluster_network,
                             const IpAddress& source) {
    return {.destination = cluster_network.network(),
            .dev = link,
            .scope = RT_SCOPE_LINK,
            .source = source};
}

bool same_route(const netlink::Route& listed, const netlink::Route& wanted) {
    return listed.destination == wanted.destination && !listed.gateway && listed.dev &&
           listed.dev->index == wanted.dev->index && listed.scope == wanted.scope &&
           listed.source == wanted.source && listed.type == RTN_UNICAST;
}

// The cluster route in place; other non-kernel routes through the device (an old cluster
// network's) removed.
void ensure_route(netlink::Socket& socket, const netlink::Route& wanted) {
    bool present = false;
    for (const auto& route : netlink::list_routes(socket, AF_INET, RT_TABLE_MAIN)) {
        if (!route.dev || route.dev->index != wanted.dev->index ||
            route.protocol == RTPROT_KERNEL) {
            continue;
        }
        if (same_route(route, wanted)) {
            present = true;
        } else if (route.destination != wanted.destination) {
            netlink::delete_route(socket, route);
        }
    }
    if (!present) {
        netlink::replace_route(socket, wanted);
    }
}

bool delete_if_present(netlink::Socket& socket, const std::string& name) {
    try {
        netlink::delete_link(socket, name);
        return true;
    } catch (const netlink::Error& e) {
        if (e.errno_value() == ENODEV) {
            return false;
        }
        throw;
    }
}

VxlanDevice describe(const netlink::Link& link, const IpPrefix& address,
                     VxlanDevice::Action action) {
    return {.index = link.index,
            .name = link.name,
            .mac = link.mac.value_or(MacAddress{}),
            .mtu = link.mtu,
            .address = address,
            .action = action};
}

}  // namespace

std::string device_name(uint32_t vni) {
    return "shuttle." + std::to_string(vni);
}

std::string flannel_device_name(uint32_t vni) {
    return "flannel." + std::to_string(vni);
}

uint32_t overlay_mtu(uint32_t underlay_mtu) {
    return underlay_mtu > kEncapOverhead ? underlay_mtu - kEncapOverhead : 0;
}

IpPrefix device_address(const IpPrefix& node_subnet) {
    return {node_subnet.network().address, 32};
}

MacAddress derive_vtep_mac(const IpAddress& public_ip, uint32_t vni) {
    uint64_t hash = kFnvOffset;
    for (char c : std::string("shuttle-vtep")) {
        hash = fnv1a(hash, static_cast<uint8_t>(c));
    }
    for (size_t i = 0; i < public_ip.size(); ++i) {
        hash = fnv1a(hash, public_ip.bytes[i]);
    }
    for (int shift = 24; shift >= 0; shift -= 8) {
        hash = fnv1a(hash, static_cast<uint8_t>(vni >> shift));
    }
    MacAddress mac;
    for (size_t i = 0; i < mac.bytes.size(); ++i) {
        mac.bytes[i] = static_cast<uint8_t>(hash >> (8 * i));
    }
    mac.bytes[0] = static_cast<uint8_t>((mac.bytes[0] & 0xfc) | 0x02);  // local, unicast
    return mac;
}

DevicePlan plan_device(const std::optional<netlink::Link>& existing, const DesiredDevice& desired) {
    DevicePlan plan;
    if (!existing) {
        plan.create = true;
        return plan;
    }
    const auto& vxlan = existing->vxlan;
    if (existing->kind != "vxlan" || !vxlan) {
        plan.recreate_reason =
            "is a " + (existing->kind.empty() ? "device" : existing->kind) + ", not vxlan";
    } else if (!vxlan->external) {
        plan.recreate_reason = "is not in external (collect_md) mode";
    } else if (vxlan->port != desired.port) {
        plan.recreate_reason = "uses UDP port " + std::to_string(vxlan->port);
    } else if (vxlan->learning) {
        plan.recreate_reason = "has learning on";
    } else if (vxlan->local != desired.local) {
        plan.recreate_reason = "has local address " + (vxlan->local ? vxlan->local->str() : "none");
    } else if (vxlan->underlay_index != desired.underlay_index) {
        plan.recreate_reason = "uses underlay ifindex " + std::to_string(vxlan->underlay_index);
    }
    if (!plan.recreate_reason.empty()) {
        plan.create = true;
        return plan;
    }
    plan.fix_mac = existing->mac != desired.mac;
    plan.fix_mtu = existing->mtu != desired.mtu;
    plan.fix_arp = existing->arp();
    plan.bring_up = !existing->up();
    return plan;
}

std::string port_conflict_message(const std::string& device, uint16_t port,
                                  const std::optional<netlink::Link>& holder) {
    std::string text = "cannot bring up " + device + ": UDP port " + std::to_string(port);
    if (!holder) {
        return text + " is in use by another socket in this network namespace";
    }
    text += " is held by " + holder->name + " (vxlan";
    if (holder->vxlan && holder->vxlan->external) {
        text += " external";
    } else if (holder->vxlan && holder->vxlan->vni) {
        text += " id " + std::to_string(*holder->vxlan->vni);
    }
    text += std::string(holder->up() ? ", up" : "") + ")";
    if (holder->name.rfind("flannel.", 0) == 0 || holder->name.rfind("flannel-v6.", 0) == 0) {
        return text + ": stop flanneld and delete " + holder->name +
               " (remove_flannel_device, or `ip link del " + holder->name + "`) first";
    }
    return text + ": delete it or use another port";
}

VxlanDevice ensure_vxlan_device(netlink::Socket& socket, const VxlanDeviceSpec& spec) {
    validate(spec);
    DesiredDevice desired = resolve(socket, spec);
    auto existing = netlink::find_link(socket, desired.name);
    DevicePlan plan = plan_device(existing, desired);

    auto action = VxlanDevice::Action::unchanged;
    if (plan.create) {
        if (existing) {
            netlink::delete_link(socket, existing->index);
        }
        create(socket, desired);
        action = existing ? VxlanDevice::Action::recreated : VxlanDevice::Action::created;
        plan = plan_device(netlink::get_link(socket, desired.name), desired);
    } else if (!plan.unchanged()) {
        action = VxlanDevice::Action::updated;
    }
    // A VXLAN device takes a new MAC and MTU while up: no flap.
    if (plan.fix_mac) {
        netlink::set_link_mac(socket, desired.name, desired.mac);
    }
    if (plan.fix_mtu) {
        netlink::set_link_mtu(socket, desired.name, desired.mtu);
    }
    // No ARP on the device: a collect_md device has no one to ask, the to-overlay program
    // sets the inner destination MAC (the peer's VtepMAC), and flannel peers hold a
    // permanent neighbour entry for our <subnet>.0.
    if (plan.fix_arp) {
        netlink::set_link_arp(socket, desired.name, false);
    }
    if (plan.bring_up) {
        bring_up(
            socket, desired,
            action != VxlanDevice::Action::unchanged && action != VxlanDevice::Action::updated);
    }

    netlink::Link link = netlink::get_link(socket, desired.name);
    netlink::LinkRef ref(link.index, link.name);
    if (!spec.ipv4) {
        return describe(link, IpPrefix{}, action);  // IPv6 addressing: overlay/vxlan_ipv6.h
    }
    IpPrefix address = device_address(spec.node_subnet);
    ensure_address(socket, ref, address);
    ensure_route(socket, cluster_route(ref, spec.cluster_network, address.address));
    return describe(link, address, action);
}

std::optional<VxlanDevice> find_vxlan_device(netlink::Socket& socket, uint32_t vni) {
    auto link = netlink::find_link(socket, device_name(vni));
    if (!link) {
        return std::nullopt;
    }
    IpPrefix address{};
    auto addresses = netlink::list_addresses(socket, AF_INET, link->index);
    if (!addresses.empty()) {
        address = addresses.front().prefix;
    }
    return describe(*link, address, VxlanDevice::Action::unchanged);
}

bool delete_vxlan_device(netlink::Socket& socket, uint32_t vni) {
    return delete_if_present(socket, device_name(vni));
}

bool remove_flannel_device(netlink::Socket& socket, uint32_t vni) {
    bool v4 = delete_if_present(socket, flannel_device_name(vni));
    // flannel's dual-stack backend: its IPv6 device holds [::]:<port> too.
    bool v6 = delete_if_present(socket, "flannel-v6." + std::to_string(vni));
    return v4 || v6;
}

}  // namespace shuttle::overlay
