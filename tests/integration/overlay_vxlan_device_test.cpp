// The node's VXLAN device, in throwaway anonymous network namespaces only.

#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>

#include "common/system_error.h"
#include "common/unique_fd.h"
#include "netlink/netlink.h"
#include "netns/guard.h"
#include "overlay/vxlan_device.h"
#include "overlay/vxlan_ipv6.h"
#include "address_literals.h"

using namespace shuttle;
using namespace shuttle::overlay;
using Action = VxlanDevice::Action;

namespace {

// A node namespace with an up underlay veth "u0" holding 192.168.50.1/24, MTU 1500.
struct OverlayNode {
    netns::Scratch ns;
    netlink::Socket nl;
    int underlay = 0;

    OverlayNode() {
        netlink::create_veth(nl, {.local = {"u0", 1500}, .peer = {"u1", 1500}});
        netlink::add_address(nl, "u0", prefix("192.168.50.1/24"));
        netlink::set_link_up(nl, "u1");
        netlink::set_link_up(nl, "u0");
        underlay = netlink::get_link(nl, "u0").index;
    }

    VxlanDeviceSpec spec() const {
        return {.underlay = netlink::LinkRef("u0"),
                .public_ip = ip("192.168.50.1"),
                .node_subnet = prefix("10.244.1.0/24"),
                .cluster_network = prefix("10.244.0.0/16")};
    }
};

std::vector<IpPrefix> ipv4_addresses(netlink::Socket& nl, int index) {
    std::vector<IpPrefix> result;
    for (const auto& a : netlink::list_addresses(nl, AF_INET, index)) {
        result.push_back(a.prefix);
    }
    return result;
}

// Routes in the main table through `index` that ensure made (not the kernel's).
std::vector<netlink::Route> device_routes(netlink::Socket& nl, int index) {
    std::vector<netlink::Route> result;
    for (auto& r : netlink::list_routes(nl, AF_INET, RT_TABLE_MAIN)) {
        if (r.dev && r.dev->index == index && r.protocol != RTPROT_KERNEL) {
            result.push_back(r);
        }
    }
    return result;
}

void make_flannel_device(netlink::Socket& nl) {
    netlink::create_vxlan(nl, {.link = {"flannel.1"},
                               .vni = 1,
                               .port = 8472,
                               .local = ip("192.168.50.1"),
                               .underlay = netlink::LinkRef("u0")});
    netlink::set_link_up(nl, "flannel.1");
}

// Link, IPv4 address and IPv4 route notifications of the current namespace, from the moment
// of construction: a change ensure makes shows up here, so "nothing arrived" means no change.
class ChangeMonitor {
  public:
    ChangeMonitor() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {
        sockaddr_nl address{};
        address.nl_family = AF_NETLINK;
        address.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE;
        if (!fd_ || ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address)) {
            throw_errno("bind netlink monitor");
        }
    }

    // Datagrams received so far (without waiting).
    int pending() {
        int count = 0;
        char buffer[16384];
        while (::recv(fd_.get(), buffer, sizeof buffer, MSG_DONTWAIT) > 0) {
            ++count;
        }
        return count;
    }

  private:
    UniqueFd fd_;
};

}  // namespace

TEST_CASE("overlay device: created with every property, read back through netlink") {
    OverlayNode node;
    VxlanDevice device = ensure_vxlan_device(node.nl, node.spec());
    REQUIRE(device.action == Action::created);
    REQUIRE(device.name == "shuttle.1");

    netlink::Link link = netlink::get_link(node.nl, "shuttle.1");
    REQUIRE(link.index == device.index);
    REQUIRE(link.kind == "vxlan");
    REQUIRE(link.vxlan);
    REQUIRE(link.vxlan->external);
    REQUIRE(link.vxlan->port == 8472);
    REQUIRE_FALSE(link.vxlan->learning);
    REQUIRE(link.vxlan->local == ip("192.168.50.1"));
    REQUIRE(link.vxlan->underlay_index == node.underlay);
    REQUIRE(link.mac == derive_vtep_mac(ip("192.168.50.1"), 1));
    REQUIRE(device.mac == *link.mac);
    REQUIRE(link.mtu == 1450);
    REQUIRE(link.up());
    REQUIRE_FALSE(link.arp());

    REQUIRE(ipv4_addresses(node.nl, link.index) == std::vector{prefix("10.244.1.0/32")});
    auto routes = device_routes(node.nl, link.index);
    REQUIRE(routes.size() == 1);
    REQUIRE(routes[0].destination == prefix("10.244.0.0/16"));
    REQUIRE_FALSE(routes[0].gateway);
    REQUIRE(routes[0].scope == RT_SCOPE_LINK);
    REQUIRE(routes[0].source == ip("10.244.1.0"));
}

TEST_CASE("overlay device: a second ensure changes nothing") {
    OverlayNode node;
    ChangeMonitor monitor;
    VxlanDevice first = ensure_vxlan_device(node.nl, node.spec());
    REQUIRE(monitor.pending() > 0);  // the monitor sees ensure's changes
    VxlanDevice second = ensure_vxlan_device(node.nl, node.spec());
    REQUIRE(monitor.pending() == 0);  // no flap: not one link, address or route message
    REQUIRE(second.action == Action::unchanged);
    REQUIRE(second.index == first.index);
    REQUIRE(second.mac == first.mac);
    REQUIRE(ipv4_addresses(node.nl, first.index).size() == 1);
    REQUIRE(device_routes(node.nl, first.index).size() == 1);
}

TEST_CASE("overlay device: a changed MTU, MAC or ARP flag is corrected in place") {
    OverlayNode node;
    VxlanDevice first = ensure_vxlan_device(node.nl, node.spec());
    netlink::set_link_mtu(node.nl, "shuttle.1", 1300);
    netlink::set_link_mac(node.nl, "shuttle.1", mac("02:de:ad:be:ef:01"));
    netlink::set_link_arp(node.nl, "shuttle.1", true);

    VxlanDevice fixed = ensure_vxlan_device(node.nl, node.spec());
    REQUIRE(fixed.action == Action::updated);
    REQUIRE(fixed.index == first.index);
    netlink::Link link = netlink::get_link(node.nl, "shuttle.1");
    REQUIRE(link.mtu == 1450);
    REQUIRE(link.mac == first.mac);
    REQUIRE_FALSE(link.arp());
    REQUIRE(link.up());

    // An explicit VtepMAC (e.g. the one in an existing lease) and MTU win over the defaults.
    VxlanDeviceSpec spec = node.spec();
    spec.vtep_mac = mac("02:42:00:00:00:01");
    spec.mtu = 1400;
    VxlanDevice explicit_values = ensure_vxlan_device(node.nl, spec);
    REQUIRE(explicit_values.index == first.index);
    link = netlink::get_link(node.nl, "shuttle.1");
    REQUIRE(link.mac == mac("02:42:00:00:00:01"));
    REQUIRE(link.mtu == 1400);
}

TEST_CASE("overlay device: a wrong port or a non-external device is recreated") {
    OverlayNode node;
    SECTION("port 4789") {
        netlink::create_vxlan(node.nl, {.link = {"shuttle.1"}, .external = true, .port = 4789});
    }
    SECTION("a VNI-mode device") {
        netlink::create_vxlan(node.nl, {.link = {"shuttle.1"}, .vni = 1, .port = 8472});
    }
    int old_index = netlink::get_link(node.nl, "shuttle.1").index;
    VxlanDevice device = ensure_vxlan_device(node.nl, node.spec());
    REQUIRE(device.action == Action::recreated);
    REQUIRE(device.index != old_index);
    netlink::Link link = netlink::get_link(node.nl, "shuttle.1");
    REQUIRE(link.vxlan->external);
    REQUIRE(link.vxlan->port == 8472);
    REQUIRE(link.up());
}

TEST_CASE("overlay device: a new lease or cluster network replaces the old address and route") {
    OverlayNode node;
    VxlanDevice first = ensure_vxlan_device(node.nl, node.spec());
    VxlanDeviceSpec moved = node.spec();
    moved.node_subnet = prefix("10.245.7.0/24");
    moved.cluster_network = prefix("10.245.0.0/16");
    VxlanDevice second = ensure_vxlan_device(node.nl, moved);
    REQUIRE(second.index == first.index);
    REQUIRE(ipv4_addresses(node.nl, first.index) == std::vector{prefix("10.245.7.0/32")});
    auto routes = device_routes(node.nl, first.index);
    REQUIRE(routes.size() == 1);
    REQUIRE(routes[0].destination == prefix("10.245.0.0/16"));
    REQUIRE(routes[0].source == ip("10.245.7.0"));
}

TEST_CASE("overlay device: an up flannel.1 on 8472 blocks creation until removed") {
    OverlayNode node;
    make_flannel_device(node.nl);

    try {
        ensure_vxlan_device(node.nl, node.spec());
        FAIL("ensure succeeded next to an up flannel.1 on the same port");
    } catch (const PortConflict& e) {
        std::string text = e.what();
        CAPTURE(text);
        REQUIRE(text.find("shuttle.1") != std::string::npos);
        REQUIRE(text.find("UDP port 8472") != std::string::npos);
        REQUIRE(text.find("held by flannel.1 (vxlan id 1, up)") != std::string::npos);
        REQUIRE(text.find("stop flanneld and delete flannel.1") != std::string::npos);
    }
    REQUIRE_FALSE(netlink::find_link(node.nl, "shuttle.1"));  // nothing left behind

    REQUIRE(remove_flannel_device(node.nl, 1));
    REQUIRE_FALSE(netlink::find_link(node.nl, "flannel.1"));
    REQUIRE_FALSE(remove_flannel_device(node.nl, 1));
    VxlanDevice device = ensure_vxlan_device(node.nl, node.spec());
    REQUIRE(device.action == Action::created);
    REQUIRE(netlink::get_link(node.nl, "shuttle.1").up());
}

TEST_CASE("overlay device: the kernel's 'Address already in use' becomes a clear error") {
    OverlayNode node;
    // A plain UDP socket on 8472: no device to blame, so only the kernel's refusal says it.
    UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(udp);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(8472);
    REQUIRE(::bind(udp.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);

    REQUIRE_THROWS_WITH(ensure_vxlan_device(node.nl, node.spec()),
                        "cannot bring up shuttle.1: UDP port 8472 is in use by another socket "
                        "in this network namespace");
    REQUIRE_FALSE(netlink::find_link(node.nl, "shuttle.1"));

    udp.reset();
    REQUIRE(ensure_vxlan_device(node.nl, node.spec()).action == Action::created);
}

TEST_CASE("overlay device: delete for uninstall takes its route along, twice is fine") {
    OverlayNode node;
    VxlanDevice device = ensure_vxlan_device(node.nl, node.spec());
    REQUIRE(find_vxlan_device(node.nl, 1));
    REQUIRE(find_vxlan_device(node.nl, 1)->address == prefix("10.244.1.0/32"));
    REQUIRE(delete_vxlan_device(node.nl, 1));
    REQUIRE_FALSE(find_vxlan_device(node.nl, 1));
    REQUIRE(device_routes(node.nl, device.index).empty());
    REQUIRE_FALSE(delete_vxlan_device(node.nl, 1));
}

TEST_CASE("overlay device: bad specs are refused before anything is touched") {
    OverlayNode node;
    VxlanDeviceSpec spec = node.spec();
    spec.node_subnet = prefix("10.99.1.0/24");
    REQUIRE_THROWS_WITH(ensure_vxlan_device(node.nl, spec),
                        "vxlan device: node subnet 10.99.1.0/24 is outside the cluster network "
                        "10.244.0.0/16");
    spec = node.spec();
    spec.vni = 0;
    REQUIRE_THROWS_AS(ensure_vxlan_device(node.nl, spec), std::invalid_argument);
    REQUIRE_FALSE(netlink::find_link(node.nl, "shuttle.1"));
}

TEST_CASE("overlay device: takes a flannel node's packets (VNI 1, port 8472, dst = VtepMAC)") {
    UniqueFd flannel_node = netns::create_anonymous();
    netns::Scratch ours;
    netlink::Socket nl;
    netlink::create_veth(
        nl, {.local = {"u0", 1500}, .peer = {"u0", 1500}, .peer_netns_fd = flannel_node.get()});
    netlink::add_address(nl, "u0", prefix("192.168.50.1/24"));
    netlink::set_link_up(nl, "u0");
    VxlanDevice device = ensure_vxlan_device(nl, {.underlay = netlink::LinkRef("u0"),
                                                  .public_ip = ip("192.168.50.1"),
                                                  .node_subnet = prefix("10.244.1.0/24"),
                                                  .cluster_network = prefix("10.244.0.0/16")});

    UniqueFd receiver(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_port = htons(7000);
    inet_pton(AF_INET, "10.244.1.0", &local.sin_addr);
    REQUIRE(::bind(receiver.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);

    {
        // The peer configured as flanneld's vxlan backend configures a node for our lease.
        netns::Guard in(flannel_node.get());
        netlink::Socket peer;
        netlink::add_address(peer, "u0", prefix("192.168.50.2/24"));
        netlink::set_link_up(peer, "u0");
        netlink::create_vxlan(peer, {.link = {"flannel.1", 1450},
                                     .vni = 1,
                                     .port = 8472,
                                     .local = ip("192.168.50.2"),
                                     .underlay = netlink::LinkRef("u0")});
        netlink::add_address(peer, "flannel.1", prefix("10.244.2.0/32"));
        netlink::set_link_up(peer, "flannel.1");
        int flannel = netlink::get_link(peer, "flannel.1").index;
        netlink::add_neighbour(peer,
                               {.dev = flannel, .address = ip("10.244.1.0"), .mac = device.mac});
        netlink::add_fdb(peer,
                         {.dev = flannel, .mac = device.mac, .destination = ip("192.168.50.1")});
        netlink::add_route(peer, {.destination = prefix("10.244.1.0/24"),
                                  .gateway = ip("10.244.1.0"),
                                  .dev = netlink::LinkRef(flannel),
                                  .onlink = true});

        UniqueFd sender(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        REQUIRE(::sendto(sender.get(), "hello", 5, 0, reinterpret_cast<sockaddr*>(&local),
                         sizeof local) == 5);
    }

    pollfd p{.fd = receiver.get(), .events = POLLIN, .revents = 0};
    REQUIRE(::poll(&p, 1, 2000) == 1);
    char payload[16] = {};
    sockaddr_in from{};
    socklen_t length = sizeof from;
    REQUIRE(::recvfrom(receiver.get(), payload, sizeof payload, 0,
                       reinterpret_cast<sockaddr*>(&from), &length) == 5);
    REQUIRE(std::string(payload) == "hello");
    char source[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &from.sin_addr, source, sizeof source);
    REQUIRE(std::string(source) == "10.244.2.0");
}

namespace {

// `ip -6 route show dev <dev>` in the calling thread's namespace (the encap is written only:
// netlink::list_routes does not parse it back).
std::string ip6_routes_text(const std::string& dev) {
    std::string text;
    FILE* out = popen(("ip -6 route show dev " + dev + " 2>&1").c_str(), "r");
    REQUIRE(out);
    char buffer[512];
    while (fgets(buffer, sizeof buffer, out)) {
        text += buffer;
    }
    pclose(out);
    return text;
}

std::vector<IpAddress> permanent_ipv6_neighbours(netlink::Socket& nl, int index) {
    std::vector<IpAddress> result;
    for (const auto& n : netlink::list_neighbours(nl, AF_INET6, index)) {
        if (n.state & NUD_PERMANENT) {
            result.push_back(n.address);
        }
    }
    return result;
}

}  // namespace

TEST_CASE("IPv6 on shuttle.1: the /128, one encap ip6 route + permanent neighbour per peer") {
    OverlayNode node;
    netlink::add_address(node.nl, "u0", prefix("fd77::1/64"), {.nodad = true});
    auto device = ensure_vxlan_device(node.nl, node.spec());
    ensure_ipv6_device(node.nl, device.name, prefix("fd00:10:244:1::/64"));
    ensure_ipv6_device(node.nl, device.name, prefix("fd00:10:244:1::/64"));  // idempotent
    std::vector<IpPrefix> v6;
    for (const auto& a : netlink::list_addresses(node.nl, AF_INET6, device.index)) {
        if (a.prefix.address.bytes[0] != 0xfe) {
            v6.push_back(a.prefix);
        }
    }
    REQUIRE(v6 == std::vector<IpPrefix>{prefix("fd00:10:244:1::/128")});

    std::vector<Ipv6Peer> peers{
        {prefix("fd00:10:244:2::/64"), ip("fd77::2"), mac("02:00:00:00:00:02"), 1},
        {prefix("fd00:10:244:3::/64"), ip("fd77::3"), mac("02:00:00:00:00:03"), 1}};
    REQUIRE(set_ipv6_peers(node.nl, device.name, ip("fd77::1"), peers) == 2);
    REQUIRE(set_ipv6_peers(node.nl, device.name, ip("fd77::1"), peers) == 2);  // idempotent
    REQUIRE(ipv6_peer_routes(node.nl, device.name) ==
            std::vector<IpPrefix>{prefix("fd00:10:244:2::/64"), prefix("fd00:10:244:3::/64")});
    auto text = ip6_routes_text(device.name);
    INFO(text);
    REQUIRE(text.find("fd00:10:244:2::/64  encap ip6 id 1 src fd77::1 dst fd77::2") !=
            std::string::npos);
    REQUIRE(text.find("via fd00:10:244:2:: metric 1024 onlink") != std::string::npos);
    auto neighbours = permanent_ipv6_neighbours(node.nl, device.index);
    std::sort(neighbours.begin(), neighbours.end());
    REQUIRE(neighbours == std::vector<IpAddress>{ip("fd00:10:244:2::"), ip("fd00:10:244:3::")});
    auto status = ipv6_overlay_status(node.nl);
    REQUIRE(status);
    REQUIRE(status->ifname == "shuttle.1");
    REQUIRE(status->address == prefix("fd00:10:244:1::/128"));
    REQUIRE(status->routes.size() == 2);

    // A lost lease: its route and neighbour go, the other stays.
    peers.pop_back();
    REQUIRE(set_ipv6_peers(node.nl, device.name, ip("fd77::1"), peers) == 1);
    REQUIRE(ipv6_peer_routes(node.nl, device.name) ==
            std::vector<IpPrefix>{prefix("fd00:10:244:2::/64")});
    REQUIRE(permanent_ipv6_neighbours(node.nl, device.index) ==
            std::vector<IpAddress>{ip("fd00:10:244:2::")});

    // A new lease: the old /128 replaced. Uninstall: the device takes everything with it.
    ensure_ipv6_device(node.nl, device.name, prefix("fd00:10:244:7::/64"));
    REQUIRE(ipv6_overlay_status(node.nl)->address == prefix("fd00:10:244:7::/128"));
    REQUIRE(delete_vxlan_device(node.nl, 1));
    REQUIRE_FALSE(ipv6_overlay_status(node.nl));
}

TEST_CASE("IPv6 on shuttle.1: a peer's route or neighbour deleted or changed is drift") {
    OverlayNode node;
    netlink::add_address(node.nl, "u0", prefix("fd77::1/64"), {.nodad = true});
    auto device = ensure_vxlan_device(node.nl, node.spec());
    ensure_ipv6_device(node.nl, device.name, prefix("fd00:10:244:1::/64"));
    std::vector<Ipv6Peer> peers{
        {prefix("fd00:10:244:2::/64"), ip("fd77::2"), mac("02:00:00:00:00:02"), 1},
        {prefix("fd00:10:244:3::/64"), ip("fd77::3"), mac("02:00:00:00:00:03"), 1}};
    auto drift = [&] { return ipv6_peers_drift(node.nl, device.name, ip("fd77::1"), peers); };
    REQUIRE(drift() == "IPv6 route to fd00:10:244:2::/64 missing on shuttle.1");
    set_ipv6_peers(node.nl, device.name, ip("fd77::1"), peers);
    REQUIRE(drift() == "");  // the listed routes carry their tunnel metadata back

    auto listed = netlink::list_routes(node.nl, AF_INET6);
    auto route = std::find_if(listed.begin(), listed.end(), [](const netlink::Route& r) {
        return r.destination == prefix("fd00:10:244:3::/64");
    });
    REQUIRE(route != listed.end());
    REQUIRE(route->encap == netlink::Ip6TunnelEncap{1, ip("fd77::3"), ip("fd77::1"), true});
    netlink::delete_route(node.nl, *route);
    REQUIRE(drift() == "IPv6 route to fd00:10:244:3::/64 missing on shuttle.1");
    set_ipv6_peers(node.nl, device.name, ip("fd77::1"), peers);
    REQUIRE(drift() == "");

    auto moved = *route;
    moved.encap->dst = ip("fd77::9");  // another outer destination
    netlink::replace_route(node.nl, moved);
    REQUIRE(drift() ==
            "IPv6 route to fd00:10:244:3::/64 on shuttle.1 changed (gateway or tunnel metadata)");
    set_ipv6_peers(node.nl, device.name, ip("fd77::1"), peers);

    netlink::delete_neighbour(
        node.nl, {.dev = netlink::LinkRef(device.index), .address = ip("fd00:10:244:2::")});
    REQUIRE(drift() ==
            "IPv6 neighbour fd00:10:244:2:: lladdr 02:00:00:00:00:02 missing or changed on "
            "shuttle.1");
    set_ipv6_peers(node.nl, device.name, ip("fd77::1"), peers);
    REQUIRE(drift() == "");

    peers.pop_back();  // a route that no peer names any more
    REQUIRE(drift() == "IPv6 route to fd00:10:244:3::/64 on shuttle.1 names no peer");
}

TEST_CASE("an IPv6-only device: local = the PublicIPv6, no IPv4, flannel-v6.1 blocks the port") {
    OverlayNode node;
    netlink::add_address(node.nl, "u0", prefix("fd77::1/64"), {.nodad = true});
    // flannel's dual-stack backend's IPv6 device, up on 8472: shuttle.1 cannot bind [::]:8472.
    netlink::create_vxlan(node.nl, {.link = {"flannel-v6.1", 1430},
                                    .vni = 1,
                                    .port = 8472,
                                    .local = ip("fd77::1"),
                                    .underlay = netlink::LinkRef("u0")});
    netlink::set_link_up(node.nl, "flannel-v6.1");
    VxlanDeviceSpec spec{.underlay = netlink::LinkRef("u0"), .public_ip = ip("fd77::1")};
    spec.ipv4 = false;
    spec.mtu = 1430;
    REQUIRE_THROWS_WITH(
        ensure_vxlan_device(node.nl, spec),
        Catch::Contains("held by flannel-v6.1") && Catch::Contains("ip link del flannel-v6.1"));
    REQUIRE(remove_flannel_device(node.nl, 1));
    auto device = ensure_vxlan_device(node.nl, spec);
    auto link = netlink::get_link(node.nl, "shuttle.1");
    REQUIRE(link.vxlan);
    REQUIRE(link.vxlan->external);
    REQUIRE(link.vxlan->local == ip("fd77::1"));
    REQUIRE(link.mtu == 1430);
    REQUIRE(ipv4_addresses(node.nl, device.index).empty());
    REQUIRE(device_routes(node.nl, device.index).empty());
    spec.public_ip = ip("192.168.50.1");
    REQUIRE_THROWS_WITH(ensure_vxlan_device(node.nl, spec), Catch::Contains("IPv6 public address"));
}
