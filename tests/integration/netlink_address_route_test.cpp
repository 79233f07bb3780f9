// Addresses and routes, in throwaway anonymous network namespaces only.

#include <catch2/catch.hpp>
#include <cerrno>

#include "netlink/address.h"
#include "netlink/error.h"
#include "netlink/link.h"
#include "netlink/route.h"
#include "netns/guard.h"
#include "address_literals.h"

using namespace shuttle;
using namespace shuttle::netlink;

namespace {

std::optional<Address> find_address(Socket& nl, int index, const IpPrefix& wanted) {
    for (const auto& a : list_addresses(nl, wanted.address.family, index)) {
        if (a.prefix == wanted) {
            return a;
        }
    }
    return std::nullopt;
}

std::optional<Route> find_route(Socket& nl, const IpPrefix& destination, uint32_t table) {
    for (const auto& r : list_routes(nl, destination.address.family, table)) {
        if (r.destination == destination) {
            return r;
        }
    }
    return std::nullopt;
}

// A namespace with an up veth "eth0" (peer "eth0-peer") to hang addresses and routes on.
struct Node {
    netns::Scratch ns;
    Socket nl;
    int eth0 = 0;

    Node() {
        create_veth(nl, {.local = {"eth0"}, .peer = {"eth0-peer"}});
        set_link_up(nl, "eth0-peer");
        set_link_up(nl, "eth0");
        eth0 = get_link(nl, "eth0").index;
    }
};

}  // namespace

TEST_CASE("IPv4 address: add with scope, read back, duplicate fails with EEXIST, delete") {
    Node node;
    add_address(node.nl, "eth0", prefix("10.244.1.1/24"));
    auto added = find_address(node.nl, node.eth0, prefix("10.244.1.1/24"));
    REQUIRE(added);
    REQUIRE(added->scope == RT_SCOPE_UNIVERSE);
    REQUIRE(added->label == "eth0");

    try {
        add_address(node.nl, "eth0", prefix("10.244.1.1/24"));
        FAIL("adding a duplicate address succeeded");
    } catch (const Error& e) {
        REQUIRE(e.errno_value() == EEXIST);
        REQUIRE_THAT(e.what(),
                     Catch::StartsWith("add address 10.244.1.1/24 dev eth0: File exists"));
    }

    add_address(node.nl, node.eth0, prefix("169.254.1.1/16"), {.scope = RT_SCOPE_LINK});
    REQUIRE(find_address(node.nl, node.eth0, prefix("169.254.1.1/16"))->scope == RT_SCOPE_LINK);

    delete_address(node.nl, "eth0", prefix("10.244.1.1/24"));
    REQUIRE_FALSE(find_address(node.nl, node.eth0, prefix("10.244.1.1/24")));
    REQUIRE(find_address(node.nl, node.eth0, prefix("169.254.1.1/16")));
}

TEST_CASE("IPv4 address with noprefixroute adds no prefix route") {
    Node node;
    add_address(node.nl, "eth0", prefix("10.244.2.1/24"));
    add_address(node.nl, "eth0", prefix("10.244.3.1/24"), {.noprefixroute = true});
    REQUIRE(find_route(node.nl, prefix("10.244.2.0/24"), RT_TABLE_MAIN));
    REQUIRE_FALSE(find_route(node.nl, prefix("10.244.3.0/24"), RT_TABLE_MAIN));
    auto flagged = find_address(node.nl, node.eth0, prefix("10.244.3.1/24"));
    REQUIRE(flagged);
    REQUIRE((flagged->flags & IFA_F_NOPREFIXROUTE) != 0);
}

TEST_CASE("IPv6 address: add (nodad), list, delete") {
    Node node;
    add_address(node.nl, "eth0", prefix("fd00:10:244:1::5/64"), {.nodad = true});
    auto added = find_address(node.nl, node.eth0, prefix("fd00:10:244:1::5/64"));
    REQUIRE(added);
    REQUIRE((added->flags & IFA_F_NODAD) != 0);
    REQUIRE((added->flags & IFA_F_TENTATIVE) == 0);
    delete_address(node.nl, "eth0", prefix("fd00:10:244:1::5/64"));
    REQUIRE_FALSE(find_address(node.nl, node.eth0, prefix("fd00:10:244:1::5/64")));
}

TEST_CASE("routes: via gateway with metric, replace, delete") {
    Node node;
    add_address(node.nl, "eth0", prefix("10.244.0.2/24"));
    Route route{.destination = prefix("10.244.1.0/24"),
                .gateway = ip("10.244.0.1"),
                .dev = LinkRef("eth0"),
                .priority = 10};
    add_route(node.nl, route);
    auto listed = find_route(node.nl, prefix("10.244.1.0/24"), RT_TABLE_MAIN);
    REQUIRE(listed);
    REQUIRE(listed->gateway == ip("10.244.0.1"));
    REQUIRE(listed->dev->index == node.eth0);
    REQUIRE(listed->priority == 10u);
    REQUIRE(listed->scope == RT_SCOPE_UNIVERSE);

    REQUIRE_THROWS_MATCHES(add_route(node.nl, route), Error,
                           Catch::Message("add route 10.244.1.0/24 via 10.244.0.1 dev eth0 "
                                          "metric 10: File exists"));

    route.gateway = ip("10.244.0.254");
    replace_route(node.nl, route);
    REQUIRE(find_route(node.nl, prefix("10.244.1.0/24"), RT_TABLE_MAIN)->gateway ==
            ip("10.244.0.254"));

    delete_route(node.nl, route);
    REQUIRE_FALSE(find_route(node.nl, prefix("10.244.1.0/24"), RT_TABLE_MAIN));
}

TEST_CASE("routes: an unreachable gateway fails with the kernel's errno text") {
    Node node;
    Route route{.destination = prefix("10.244.1.0/24"),
                .gateway = ip("10.244.0.1"),
                .dev = LinkRef("eth0")};
    try {
        add_route(node.nl, route);
        FAIL("adding a route via an unreachable gateway succeeded");
    } catch (const Error& e) {
        REQUIRE(e.errno_value() == ENETUNREACH);
        REQUIRE_THAT(e.what(), Catch::StartsWith("add route 10.244.1.0/24 via 10.244.0.1 dev "
                                                 "eth0: Network is unreachable"));
    }
}

TEST_CASE("routes: onlink gateway (flannel style), scope link, table above 255") {
    Node node;
    // flannel's route to a remote subnet: via the remote VTEP's .0 address, onlink. The
    // device carries the node's own .0/32 as flannel.1 does (the kernel checks the gateway
    // against the local table, which exists only once an address has been added).
    add_address(node.nl, "eth0", prefix("10.244.0.0/32"));
    Route onlink{.destination = prefix("10.244.5.0/24"),
                 .gateway = ip("10.244.5.0"),
                 .dev = LinkRef("eth0"),
                 .onlink = true};
    add_route(node.nl, onlink);
    auto listed = find_route(node.nl, prefix("10.244.5.0/24"), RT_TABLE_MAIN);
    REQUIRE(listed);
    REQUIRE(listed->onlink);
    REQUIRE(listed->gateway == ip("10.244.5.0"));

    delete_route(node.nl, onlink);
    REQUIRE_FALSE(find_route(node.nl, prefix("10.244.5.0/24"), RT_TABLE_MAIN));

    // The CNI ptp pattern in its own table (> 255, so only RTA_TABLE can carry it): a host
    // route to the gateway with scope link, then a default route via that gateway.
    Route host{.destination = prefix("169.254.1.1/32"), .dev = LinkRef("eth0"), .table = 1000};
    add_route(node.nl, host);
    auto listed_host = find_route(node.nl, prefix("169.254.1.1/32"), 1000);
    REQUIRE(listed_host);
    REQUIRE(listed_host->scope == RT_SCOPE_LINK);
    REQUIRE_FALSE(listed_host->gateway);
    REQUIRE_FALSE(find_route(node.nl, prefix("169.254.1.1/32"), RT_TABLE_MAIN));

    Route fallback{.destination = prefix("0.0.0.0/0"),
                   .gateway = ip("169.254.1.1"),
                   .dev = LinkRef(node.eth0, "eth0"),
                   .table = 1000};
    add_route(node.nl, fallback);
    auto listed_default = find_route(node.nl, prefix("0.0.0.0/0"), 1000);
    REQUIRE(listed_default);
    REQUIRE(listed_default->gateway == ip("169.254.1.1"));
    REQUIRE_FALSE(find_route(node.nl, prefix("0.0.0.0/0"), RT_TABLE_MAIN));

    delete_route(node.nl, fallback);
    delete_route(node.nl, host);
    REQUIRE(list_routes(node.nl, AF_INET, 1000).empty());
}

TEST_CASE("routes: IPv6 via a gateway on dev, list across all tables") {
    Node node;
    add_address(node.nl, "eth0", prefix("fd00:1::2/64"), {.nodad = true});
    Route route{
        .destination = prefix("fd00:2::/64"), .gateway = ip("fd00:1::1"), .dev = LinkRef("eth0")};
    add_route(node.nl, route);
    auto listed = find_route(node.nl, prefix("fd00:2::/64"), RT_TABLE_MAIN);
    REQUIRE(listed);
    REQUIRE(listed->gateway == ip("fd00:1::1"));
    REQUIRE(listed->dev->index == node.eth0);

    bool in_all_tables = false;
    for (const auto& r : list_routes(node.nl, AF_UNSPEC, std::nullopt)) {
        in_all_tables = in_all_tables || r.destination == prefix("fd00:2::/64");
    }
    REQUIRE(in_all_tables);

    delete_route(node.nl, route);
    REQUIRE_FALSE(find_route(node.nl, prefix("fd00:2::/64"), RT_TABLE_MAIN));
}

TEST_CASE("a dump spanning many datagrams (multipart) returns every route") {
    Node node;
    add_address(node.nl, "eth0", prefix("10.0.0.2/24"));
    constexpr uint32_t kRoutes = 3000;  // far more than one 32 KiB dump datagram holds
    for (uint32_t i = 0; i < kRoutes; ++i) {
        IpPrefix destination{IpAddress::v4(0x0b000000 + (i << 8)), 24};  // 11.x.y.0/24
        add_route(node.nl, {.destination = destination,
                            .gateway = ip("10.0.0.1"),
                            .dev = LinkRef(node.eth0, "eth0"),
                            .table = 200});
    }
    auto routes = list_routes(node.nl, AF_INET, 200);
    REQUIRE(routes.size() == kRoutes);
    REQUIRE(routes.back().gateway == ip("10.0.0.1"));
}
