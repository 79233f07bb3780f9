// Links, in throwaway anonymous network namespaces only.

#include <linux/if.h>

#include <catch2/catch.hpp>
#include <cerrno>

#include "netlink/error.h"
#include "netlink/link.h"
#include "netns/guard.h"
#include "address_literals.h"

using namespace shuttle;
using namespace shuttle::netlink;

namespace {

bool has_link(Socket& nl, const std::string& name) {
    for (const auto& link : list_links(nl)) {
        if (link.name == name) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("veth pair with names, MTU and MACs, peer created straight in another netns") {
    UniqueFd pod = netns::create_anonymous();
    netns::Scratch host;
    Socket nl;

    create_veth(nl, {.local = {"veth-host", 1400, mac("02:00:00:00:00:01")},
                     .peer = {"eth0", 1410, mac("02:00:00:00:00:02")},
                     .peer_netns_fd = pod.get()});

    Link local = get_link(nl, "veth-host");
    REQUIRE(local.kind == "veth");
    REQUIRE(local.mtu == 1400);
    REQUIRE(local.mac == mac("02:00:00:00:00:01"));
    REQUIRE(local.link_netnsid.has_value());  // the peer lives in another namespace
    REQUIRE_FALSE(find_link(nl, "eth0"));

    netns::Guard in_pod(pod.get());
    Socket pod_nl;
    Link peer = get_link(pod_nl, "eth0");
    REQUIRE(peer.kind == "veth");
    REQUIRE(peer.mtu == 1410);
    REQUIRE(peer.mac == mac("02:00:00:00:00:02"));
    REQUIRE(peer.parent == local.index);  // IFLA_LINK: the peer's index, in the other netns
    REQUIRE(local.parent == peer.index);
}

TEST_CASE("veth pair in one namespace: up/down, MTU, MAC, rename, delete") {
    netns::Scratch ns;
    Socket nl;
    create_veth(nl, {.local = {"va"}, .peer = {"vb"}});
    Link a = get_link(nl, "va");
    Link b = get_link(nl, "vb");
    REQUIRE(a.parent == b.index);
    REQUIRE_FALSE(a.link_netnsid);
    REQUIRE_FALSE(a.up());

    set_link_up(nl, "va");
    set_link_up(nl, b.index);
    REQUIRE(get_link(nl, a.index).up());
    REQUIRE(get_link(nl, "vb").up());
    set_link_down(nl, "va");
    REQUIRE_FALSE(get_link(nl, "va").up());

    set_link_mtu(nl, "va", 1280);
    REQUIRE(get_link(nl, "va").mtu == 1280);
    set_link_mac(nl, a.index, mac("02:aa:bb:cc:dd:ee"));
    REQUIRE(get_link(nl, "va").mac == mac("02:aa:bb:cc:dd:ee"));

    rename_link(nl, "va", "va-renamed");
    REQUIRE(get_link(nl, a.index).name == "va-renamed");
    REQUIRE_FALSE(find_link(nl, "va"));

    delete_link(nl, "va-renamed");  // deleting one end removes both
    REQUIRE_FALSE(find_link(nl, a.index));
    REQUIRE_FALSE(find_link(nl, "vb"));
    REQUIRE_FALSE(has_link(nl, "vb"));
}

TEST_CASE("move a link into another namespace by fd, renaming it there") {
    UniqueFd other = netns::create_anonymous();
    netns::Scratch ns;
    Socket nl;
    create_veth(nl, {.local = {"mv0"}, .peer = {"mv1"}});

    move_link_to_netns(nl, "mv1", other.get(), "eth0");
    REQUIRE_FALSE(find_link(nl, "mv1"));
    REQUIRE(get_link(nl, "mv0").link_netnsid.has_value());

    netns::Guard in_other(other.get());
    Socket other_nl;
    REQUIRE(get_link(other_nl, "eth0").kind == "veth");
}

TEST_CASE("bridge with a veth enslaved, then released") {
    netns::Scratch ns;
    Socket nl;
    create_bridge(nl, {"br-test", 1450, mac("02:00:00:00:0b:01")});
    Link bridge = get_link(nl, "br-test");
    REQUIRE(bridge.kind == "bridge");
    REQUIRE(bridge.mtu == 1450);
    REQUIRE(bridge.mac == mac("02:00:00:00:0b:01"));

    create_veth(nl, {.local = {"port0"}, .peer = {"port1"}});
    set_link_master(nl, "port0", "br-test");
    REQUIRE(get_link(nl, "port0").master == bridge.index);
    set_link_nomaster(nl, "port0");
    REQUIRE(get_link(nl, "port0").master == 0);

    delete_link(nl, "br-test");
    REQUIRE_FALSE(find_link(nl, "br-test"));
}

TEST_CASE("vxlan with a VNI: dstport, learning off, local IP, underlay, MTU, MAC") {
    netns::Scratch ns;
    Socket nl;
    create_veth(nl, {.local = {"underlay0"}, .peer = {"underlay1"}});
    Link underlay = get_link(nl, "underlay0");

    create_vxlan(nl, {.link = {"flannel.1", 1450, mac("02:00:00:00:0c:01")},
                      .vni = 1,
                      .port = 8472,
                      .local = IpAddress::parse("192.168.50.2"),
                      .underlay = LinkRef("underlay0")});
    Link vxlan = get_link(nl, "flannel.1");
    REQUIRE(vxlan.kind == "vxlan");
    REQUIRE(vxlan.mtu == 1450);
    REQUIRE(vxlan.mac == mac("02:00:00:00:0c:01"));
    REQUIRE(vxlan.vxlan);
    REQUIRE(vxlan.vxlan->vni == 1u);
    REQUIRE_FALSE(vxlan.vxlan->external);
    REQUIRE(vxlan.vxlan->port == 8472);
    REQUIRE_FALSE(vxlan.vxlan->learning);
    REQUIRE(vxlan.vxlan->local == IpAddress::parse("192.168.50.2"));
    REQUIRE(vxlan.vxlan->underlay_index == underlay.index);

    delete_link(nl, "flannel.1");
    REQUIRE_FALSE(find_link(nl, "flannel.1"));
}

TEST_CASE("vxlan in external (collect_md) mode") {
    netns::Scratch ns;
    Socket nl;
    create_vxlan(nl, {.link = {"shuttle.1"}, .external = true, .port = 4789});
    Link vxlan = get_link(nl, "shuttle.1");
    REQUIRE(vxlan.vxlan);
    REQUIRE(vxlan.vxlan->external);
    REQUIRE(vxlan.vxlan->port == 4789);
    REQUIRE_FALSE(vxlan.vxlan->learning);
    delete_link(nl, "shuttle.1");
    REQUIRE_FALSE(find_link(nl, "shuttle.1"));
}

TEST_CASE("link errors name the operation, the object and the errno text") {
    netns::Scratch ns;
    Socket nl;
    create_veth(nl, {.local = {"dup0"}, .peer = {"dup1"}});
    try {
        create_bridge(nl, {"dup0"});
        FAIL("creating an existing link succeeded");
    } catch (const Error& e) {
        REQUIRE(e.errno_value() == EEXIST);
        REQUIRE_THAT(e.what(), Catch::StartsWith("create bridge dup0: File exists"));
    }
    try {
        delete_link(nl, "missing0");
        FAIL("deleting a missing link succeeded");
    } catch (const Error& e) {
        REQUIRE(e.errno_value() == ENODEV);
        REQUIRE_THAT(e.what(), Catch::StartsWith("delete link missing0: No such device"));
    }
    try {
        get_link(nl, 9999);
        FAIL("looking up a missing index succeeded");
    } catch (const Error& e) {
        REQUIRE(e.errno_value() == ENODEV);
        REQUIRE_THAT(e.what(), Catch::StartsWith("look up link ifindex 9999: No such device"));
    }
}

TEST_CASE("list_links sees loopback and created links") {
    netns::Scratch ns;
    Socket nl;
    create_bridge(nl, {"br-list"});
    auto links = list_links(nl);
    REQUIRE(links.size() == 2);
    REQUIRE(has_link(nl, "lo"));
    REQUIRE(has_link(nl, "br-list"));
    // The agent's direct overlay needs an Ethernet underlay: the link type tells.
    REQUIRE_FALSE(get_link(nl, "lo").ethernet());
    REQUIRE(get_link(nl, "br-list").ethernet());
}

TEST_CASE("veth pair with one queue per end instead of one per possible CPU") {
    UniqueFd pod = netns::create_anonymous();
    netns::Scratch host;
    Socket nl;
    LinkSettings local{"q-host"}, peer{"eth0"};
    local.queues = 1;
    peer.queues = 1;
    create_veth(nl, {.local = local, .peer = peer, .peer_netns_fd = pod.get()});
    Link made = get_link(nl, "q-host");
    REQUIRE(made.tx_queues == 1);
    REQUIRE(made.rx_queues == 1);
    netns::Guard in_pod(pod.get());
    Socket pod_nl;
    REQUIRE(get_link(pod_nl, "eth0").tx_queues == 1);
    REQUIRE(get_link(pod_nl, "eth0").rx_queues == 1);
}
