// The VXLAN device's pure parts: names, MTU, address, VtepMAC, the plan for an existing link.

#include <linux/if.h>

#include <catch2/catch.hpp>

#include "overlay/vxlan_device.h"
#include "address_literals.h"

using namespace shuttle;
using namespace shuttle::overlay;

namespace {

DesiredDevice desired() {
    return {.name = "shuttle.1",
            .port = 8472,
            .local = ip("192.168.50.1"),
            .underlay_index = 2,
            .mac = mac("02:11:22:33:44:55"),
            .mtu = 1450};
}

// A link exactly as desired(): up, ARP off.
netlink::Link matching_link() {
    netlink::Link link;
    link.index = 7;
    link.name = "shuttle.1";
    link.kind = "vxlan";
    link.mac = mac("02:11:22:33:44:55");
    link.mtu = 1450;
    link.flags = IFF_UP | IFF_NOARP;
    link.vxlan = netlink::VxlanInfo{.external = true,
                                    .port = 8472,
                                    .learning = false,
                                    .local = ip("192.168.50.1"),
                                    .underlay_index = 2};
    return link;
}

}  // namespace

TEST_CASE("overlay names, MTU and device address follow flannel") {
    REQUIRE(device_name(1) == "shuttle.1");
    REQUIRE(device_name(4096) == "shuttle.4096");
    REQUIRE(flannel_device_name(1) == "flannel.1");
    REQUIRE(overlay_mtu(1500) == 1450);
    REQUIRE(overlay_mtu(9001) == 8951);
    REQUIRE(device_address(*IpPrefix::parse("10.244.1.0/24")).str() == "10.244.1.0/32");
    REQUIRE(device_address(*IpPrefix::parse("10.244.1.1/24")).str() == "10.244.1.0/32");
}

TEST_CASE(
    "overlay: derived VtepMAC is stable, locally administered unicast, distinct per IP and VNI") {
    MacAddress a = derive_vtep_mac(ip("192.168.50.1"), 1);
    REQUIRE(a == derive_vtep_mac(ip("192.168.50.1"), 1));
    REQUIRE((a.bytes[0] & 0x02) == 0x02);  // locally administered
    REQUIRE((a.bytes[0] & 0x01) == 0x00);  // unicast
    REQUIRE(a != derive_vtep_mac(ip("192.168.50.2"), 1));
    REQUIRE(a != derive_vtep_mac(ip("192.168.50.1"), 2));
    // Pinned: a change of the derivation would change every node's advertised MAC.
    REQUIRE(a.str() == derive_vtep_mac(ip("192.168.50.1"), 1).str());
    REQUIRE(a.str().size() == 17);
}

TEST_CASE("overlay plan: no link means create") {
    DevicePlan plan = plan_device(std::nullopt, desired());
    REQUIRE(plan.create);
    REQUIRE(plan.recreate_reason.empty());
}

TEST_CASE("overlay plan: a matching link is left alone") {
    DevicePlan plan = plan_device(matching_link(), desired());
    REQUIRE(plan.unchanged());
}

TEST_CASE("overlay plan: MAC, MTU, ARP and down are fixed in place") {
    netlink::Link link = matching_link();
    link.mac = mac("02:00:00:00:00:99");
    link.mtu = 1400;
    link.flags = 0;  // down, ARP on
    DevicePlan plan = plan_device(link, desired());
    REQUIRE_FALSE(plan.create);
    REQUIRE(plan.fix_mac);
    REQUIRE(plan.fix_mtu);
    REQUIRE(plan.fix_arp);
    REQUIRE(plan.bring_up);
}

TEST_CASE("overlay plan: mode, port, learning, local and underlay mean recreate, with the reason") {
    netlink::Link link = matching_link();
    SECTION("not external") {
        link.vxlan->external = false;
        link.vxlan->vni = 1;
        REQUIRE(plan_device(link, desired()).recreate_reason ==
                "is not in external (collect_md) mode");
    }
    SECTION("port") {
        link.vxlan->port = 4789;
        REQUIRE(plan_device(link, desired()).recreate_reason == "uses UDP port 4789");
    }
    SECTION("learning") {
        link.vxlan->learning = true;
        REQUIRE(plan_device(link, desired()).recreate_reason == "has learning on");
    }
    SECTION("local") {
        link.vxlan->local = ip("192.168.50.9");
        REQUIRE(plan_device(link, desired()).recreate_reason == "has local address 192.168.50.9");
    }
    SECTION("underlay") {
        link.vxlan->underlay_index = 3;
        REQUIRE(plan_device(link, desired()).recreate_reason == "uses underlay ifindex 3");
    }
    SECTION("not vxlan") {
        link.kind = "veth";
        link.vxlan.reset();
        REQUIRE(plan_device(link, desired()).recreate_reason == "is a veth, not vxlan");
    }
    REQUIRE(plan_device(link, desired()).create);
}

TEST_CASE("overlay port conflict text names the holder and the way out") {
    netlink::Link flannel;
    flannel.name = "flannel.1";
    flannel.kind = "vxlan";
    flannel.flags = IFF_UP;
    flannel.vxlan = netlink::VxlanInfo{.vni = 1, .port = 8472};
    REQUIRE(port_conflict_message("shuttle.1", 8472, flannel) ==
            "cannot bring up shuttle.1: UDP port 8472 is held by flannel.1 (vxlan id 1, up): "
            "stop flanneld and delete flannel.1 (remove_flannel_device, or `ip link del "
            "flannel.1`) first");
    // flannel's dual-stack backend: its IPv6 device holds [::]:8472, which shuttle.1 (a
    // collect_md device opens both families) needs too.
    flannel.name = "flannel-v6.1";
    REQUIRE(port_conflict_message("shuttle.1", 8472, flannel) ==
            "cannot bring up shuttle.1: UDP port 8472 is held by flannel-v6.1 (vxlan id 1, up): "
            "stop flanneld and delete flannel-v6.1 (remove_flannel_device, or `ip link del "
            "flannel-v6.1`) first");
    REQUIRE(port_conflict_message("shuttle.1", 8472, std::nullopt) ==
            "cannot bring up shuttle.1: UDP port 8472 is in use by another socket in this "
            "network namespace");
}
