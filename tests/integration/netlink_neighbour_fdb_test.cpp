// Neighbours and bridge FDB entries, in throwaway anonymous network namespaces only.

#include <catch2/catch.hpp>
#include <cerrno>

#include "netlink/address.h"
#include "netlink/error.h"
#include "netlink/fdb.h"
#include "netlink/link.h"
#include "netlink/neighbour.h"
#include "netns/guard.h"
#include "address_literals.h"

using namespace shuttle;
using namespace shuttle::netlink;

namespace {

std::optional<Neighbour> find_neighbour(Socket& nl, int index, const IpAddress& address) {
    for (const auto& n : list_neighbours(nl, address.family, index)) {
        if (n.address == address) {
            return n;
        }
    }
    return std::nullopt;
}

std::vector<FdbEntry> fdb_for(Socket& nl, int index, const MacAddress& wanted) {
    std::vector<FdbEntry> found;
    for (const auto& entry : list_fdb(nl, index)) {
        if (entry.mac == wanted) {
            found.push_back(entry);
        }
    }
    return found;
}

// A namespace with an underlay veth and a flannel-style VXLAN device on it.
struct VxlanNode {
    netns::Scratch ns;
    Socket nl;
    int vxlan = 0;

    VxlanNode() {
        create_veth(nl, {.local = {"underlay0"}, .peer = {"underlay1"}});
        add_address(nl, "underlay0", *IpPrefix::parse("192.168.50.2/24"));
        set_link_up(nl, "underlay0");
        create_vxlan(nl, {.link = {"flannel.1"},
                          .vni = 1,
                          .local = ip("192.168.50.2"),
                          .underlay = LinkRef("underlay0")});
        set_link_up(nl, "flannel.1");
        vxlan = get_link(nl, "flannel.1").index;
    }
};

}  // namespace

TEST_CASE("permanent IPv4 neighbour: add, duplicate fails, replace, delete") {
    VxlanNode node;
    // flannel's ARP entry for a remote VTEP: ip neigh add 10.244.5.0 lladdr <mac> dev flannel.1
    Neighbour neighbour{
        .dev = LinkRef("flannel.1"), .address = ip("10.244.5.0"), .mac = mac("aa:bb:cc:00:00:05")};
    add_neighbour(node.nl, neighbour);
    auto listed = find_neighbour(node.nl, node.vxlan, ip("10.244.5.0"));
    REQUIRE(listed);
    REQUIRE(listed->mac == mac("aa:bb:cc:00:00:05"));
    REQUIRE(listed->state == NUD_PERMANENT);
    REQUIRE(listed->dev.index == node.vxlan);

    try {
        add_neighbour(node.nl, neighbour);
        FAIL("adding an existing neighbour succeeded");
    } catch (const Error& e) {
        REQUIRE(e.errno_value() == EEXIST);
        REQUIRE_THAT(e.what(), Catch::StartsWith("add neighbour 10.244.5.0 lladdr "
                                                 "aa:bb:cc:00:00:05 dev flannel.1: File exists"));
    }

    neighbour.mac = mac("aa:bb:cc:00:00:55");
    replace_neighbour(node.nl, neighbour);
    REQUIRE(find_neighbour(node.nl, node.vxlan, ip("10.244.5.0"))->mac == mac("aa:bb:cc:00:00:55"));

    delete_neighbour(node.nl, neighbour);
    REQUIRE_FALSE(find_neighbour(node.nl, node.vxlan, ip("10.244.5.0")));
    REQUIRE_THROWS_MATCHES(
        delete_neighbour(node.nl, neighbour), Error,
        Catch::Predicate<Error>([](const Error& e) { return e.errno_value() == ENOENT; }));
}

TEST_CASE("permanent IPv6 neighbour on a veth") {
    netns::Scratch ns;
    Socket nl;
    create_veth(nl, {.local = {"n0"}, .peer = {"n1"}});
    set_link_up(nl, "n0");
    Neighbour neighbour{
        .dev = LinkRef("n0"), .address = ip("fd00::99"), .mac = mac("02:00:00:00:99:99")};
    add_neighbour(nl, neighbour);
    int n0 = get_link(nl, "n0").index;
    auto listed = find_neighbour(nl, n0, ip("fd00::99"));
    REQUIRE(listed);
    REQUIRE(listed->mac == mac("02:00:00:00:99:99"));
    REQUIRE(listed->state == NUD_PERMANENT);
    delete_neighbour(nl, neighbour);
    REQUIRE_FALSE(find_neighbour(nl, n0, ip("fd00::99")));
}

TEST_CASE("VXLAN FDB: flannel's `fdb add <mac> dev flannel.1 dst <ip> self permanent`") {
    VxlanNode node;
    FdbEntry entry{.dev = LinkRef("flannel.1"),
                   .mac = mac("aa:bb:cc:00:00:05"),
                   .destination = ip("192.168.50.5")};
    add_fdb(node.nl, entry);
    auto listed = fdb_for(node.nl, node.vxlan, entry.mac);
    REQUIRE(listed.size() == 1);
    REQUIRE(listed[0].destination == ip("192.168.50.5"));
    REQUIRE(listed[0].state == NUD_PERMANENT);
    REQUIRE((listed[0].flags & NTF_SELF) != 0);

    try {
        add_fdb(node.nl, entry);
        FAIL("adding an existing FDB entry succeeded");
    } catch (const Error& e) {
        REQUIRE(e.errno_value() == EEXIST);
        REQUIRE_THAT(e.what(), Catch::StartsWith("add fdb aa:bb:cc:00:00:05 dev flannel.1 dst "
                                                 "192.168.50.5: File exists"));
    }

    entry.destination = ip("192.168.50.6");
    replace_fdb(node.nl, entry);
    listed = fdb_for(node.nl, node.vxlan, entry.mac);
    REQUIRE(listed.size() == 1);
    REQUIRE(listed[0].destination == ip("192.168.50.6"));

    delete_fdb(node.nl, entry);
    REQUIRE(fdb_for(node.nl, node.vxlan, entry.mac).empty());
}

TEST_CASE("VXLAN FDB: append keeps several destinations for one MAC") {
    VxlanNode node;
    MacAddress flood = mac("00:00:00:00:00:00");
    append_fdb(node.nl,
               {.dev = LinkRef("flannel.1"), .mac = flood, .destination = ip("192.168.50.7")});
    append_fdb(node.nl,
               {.dev = LinkRef("flannel.1"), .mac = flood, .destination = ip("192.168.50.8")});
    REQUIRE(fdb_for(node.nl, node.vxlan, flood).size() == 2);

    delete_fdb(node.nl,
               {.dev = LinkRef("flannel.1"), .mac = flood, .destination = ip("192.168.50.7")});
    auto left = fdb_for(node.nl, node.vxlan, flood);
    REQUIRE(left.size() == 1);
    REQUIRE(left[0].destination == ip("192.168.50.8"));
}

TEST_CASE("FDB entry in an external-mode VXLAN device") {
    netns::Scratch ns;
    Socket nl;
    create_vxlan(nl, {.link = {"shuttle.1"}, .external = true});
    int index = get_link(nl, "shuttle.1").index;
    FdbEntry entry{.dev = LinkRef(index, "shuttle.1"),
                   .mac = mac("aa:bb:cc:00:00:09"),
                   .destination = ip("192.168.50.9")};
    add_fdb(nl, entry);
    auto listed = fdb_for(nl, index, entry.mac);
    REQUIRE(listed.size() == 1);
    REQUIRE(listed[0].destination == ip("192.168.50.9"));
    delete_fdb(nl, entry);
    REQUIRE(fdb_for(nl, index, entry.mac).empty());
}

TEST_CASE("bridge FDB: a static entry on a bridge port (master)") {
    netns::Scratch ns;
    Socket nl;
    create_bridge(nl, {"br0"});
    create_veth(nl, {.local = {"port0"}, .peer = {"port1"}});
    set_link_master(nl, "port0", "br0");
    int port = get_link(nl, "port0").index;
    int bridge = get_link(nl, "br0").index;

    FdbEntry entry{.dev = LinkRef("port0"), .mac = mac("02:00:00:00:aa:01"), .flags = NTF_MASTER};
    add_fdb(nl, entry);
    auto listed = fdb_for(nl, port, entry.mac);
    REQUIRE(listed.size() == 1);
    REQUIRE(listed[0].master == bridge);
    delete_fdb(nl, entry);
    REQUIRE(fdb_for(nl, port, entry.mac).empty());
}
