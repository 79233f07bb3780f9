#include <catch2/catch.hpp>

#include "cni/error.h"
#include "ipam/config.h"

using namespace shuttle;
using namespace shuttle::ipam;
using nlohmann::json;

namespace {

cni::Error error_of(const char* text) {
    try {
        parse_config(json::parse(text));
    } catch (const cni::Error& e) {
        return e;
    }
    FAIL("no error");
    return cni::Error(0, "");
}

}  // namespace

TEST_CASE("host-local defaults: gateway .1, range .1 to broadcast-1") {
    auto config = parse_config(json::parse(R"({"type":"host-local","subnet":"10.1.0.0/24"})"));
    REQUIRE(config.range_sets.size() == 1);
    const auto& r = config.range_sets[0][0];
    REQUIRE(r.start.str() == "10.1.0.1");
    REQUIRE(r.end.str() == "10.1.0.254");
    REQUIRE(r.gateway.str() == "10.1.0.1");
    REQUIRE(config.data_dir == "/var/lib/cni/networks");
}

TEST_CASE("ranges, routes and dataDir") {
    auto config = parse_config(json::parse(R"({"type":"host-local",
        "ranges":[[{"subnet":"10.1.0.0/24","rangeStart":"10.1.0.10","rangeEnd":"10.1.0.20",
                    "gateway":"10.1.0.254"},{"subnet":"10.2.0.0/24"}]],
        "routes":[{"dst":"10.0.0.0/8"},{"dst":"192.168.0.0/16","gw":"10.1.0.254"}],
        "dataDir":"/tmp/x"})"));
    REQUIRE(config.range_sets[0].size() == 2);
    REQUIRE(config.range_sets[0][0].str() == "10.1.0.10-10.1.0.20");
    REQUIRE(config.range_sets[0][0].gateway.str() == "10.1.0.254");
    REQUIRE(config.routes.size() == 2);
    REQUIRE(config.routes[1].gw->str() == "10.1.0.254");
    REQUIRE(config.data_dir == "/tmp/x");
}

TEST_CASE("bad ranges are code 7 naming the field") {
    auto e = error_of(R"({"type":"host-local","subnet":"10.1.0.0/31"})");
    REQUIRE(e.code() == cni::kInvalidConfig);
    REQUIRE(e.msg() == "invalid network config: ipam.subnet");
    REQUIRE(e.details() == "network 10.1.0.0/31 too small to allocate from");

    e = error_of(R"({"type":"host-local","ranges":[[{"subnet":"10.1.0.5/24"}]]})");
    REQUIRE(e.msg() == "invalid network config: ipam.ranges[0][0].subnet");
    REQUIRE(e.details() == "10.1.0.5/24 has host bits set");

    e = error_of(
        R"({"type":"host-local","ranges":[[{"subnet":"10.1.0.0/24","rangeStart":"10.2.0.1"}]]})");
    REQUIRE(e.msg() == "invalid network config: ipam.ranges[0][0].rangeStart");

    e = error_of(R"({"type":"host-local"})");
    REQUIRE(e.msg() == "invalid network config: ipam.ranges");

    e = error_of(
        R"({"type":"host-local","ranges":[[{"subnet":"10.1.0.0/24"}],[{"subnet":"10.1.0.0/25"}]]})");
    REQUIRE(e.details() == "range 10.1.0.0/25 overlaps 10.1.0.0/24");
}

TEST_CASE("IPv6 ranges: host-local's defaults, the last address included") {
    auto config = parse_config(json::parse(R"({"type":"host-local",
        "ranges":[[{"subnet":"10.1.0.0/24"}],[{"subnet":"fd00:10:1::/64"}]],
        "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"},{"dst":"fd00:10::/48","gw":"fd00:10:1::fe"}]})"));
    REQUIRE(config.range_sets.size() == 2);
    const auto& r = config.range_sets[1][0];
    REQUIRE(r.start.str() == "fd00:10:1::1");
    REQUIRE(r.end.str() == "fd00:10:1:0:ffff:ffff:ffff:ffff");
    REQUIRE(r.gateway.str() == "fd00:10:1::1");
    REQUIRE(config.routes.size() == 3);
    REQUIRE(config.routes[1].dst.str() == "::/0");
    REQUIRE(config.routes[2].gw->str() == "fd00:10:1::fe");

    auto small = parse_config(json::parse(R"({"type":"host-local","subnet":"fd00::/126"})"));
    REQUIRE(small.range_sets[0][0].str() == "fd00::1-fd00::3");
    REQUIRE(small.range_sets[0][0].contains(*IpAddress::parse("fd00::3")));
    REQUIRE_FALSE(small.range_sets[0][0].contains(*IpAddress::parse("fd00::4")));
    REQUIRE_FALSE(small.range_sets[0][0].contains(*IpAddress::parse("10.0.0.3")));
}

TEST_CASE("bad IPv6 ranges are code 7 naming the field") {
    auto e = error_of(R"({"type":"host-local","ranges":[[{"subnet":"fd00::/127"}]]})");
    REQUIRE(e.code() == cni::kInvalidConfig);
    REQUIRE(e.msg() == "invalid network config: ipam.ranges[0][0].subnet");
    REQUIRE(e.details() == "network fd00::/127 too small to allocate from");

    e = error_of(R"({"type":"host-local","ranges":[[{"subnet":"fd00::1/64"}]]})");
    REQUIRE(e.details() == "fd00::1/64 has host bits set");

    e = error_of(R"({"type":"host-local","ranges":[[{"subnet":"fd00::/64x"}]]})");
    REQUIRE(e.details() == "\"fd00::/64x\" is not an address/length");

    e = error_of(
        R"({"type":"host-local","ranges":[[{"subnet":"fd00::/64","rangeStart":"fd01::1"}]]})");
    REQUIRE(e.msg() == "invalid network config: ipam.ranges[0][0].rangeStart");
    REQUIRE(e.details() == "fd01::1 is not in fd00::/64");

    e = error_of(R"({"type":"host-local","ranges":[[{"subnet":"fd00::/64","rangeStart":"fd00::9",
        "rangeEnd":"fd00::5"}]]})");
    REQUIRE(e.msg() == "invalid network config: ipam.ranges[0][0].rangeStart");

    e = error_of(
        R"({"type":"host-local","ranges":[[{"subnet":"10.1.0.0/24"},{"subnet":"fd00::/64"}]]})");
    REQUIRE(e.msg() == "invalid network config: ipam.ranges[0]");
    REQUIRE(e.details() == "mixes IPv4 and IPv6 ranges (one family per range set)");

    e = error_of(
        R"({"type":"host-local","ranges":[[{"subnet":"fd00::/64"}],[{"subnet":"fd00::/96"}]]})");
    REQUIRE(e.details() == "range fd00::/96 overlaps fd00::/64");
}

TEST_CASE("resolv.conf becomes DNS") {
    auto dns = parse_resolv_conf(
        "# c\nnameserver 10.96.0.10\nnameserver 1.1.1.1\nsearch a.local b.local\n"
        "domain x\noptions ndots:5\n");
    REQUIRE(dns.nameservers == std::vector<std::string>{"10.96.0.10", "1.1.1.1"});
    REQUIRE(dns.search == std::vector<std::string>{"a.local", "b.local"});
    REQUIRE(dns.domain == "x");
    REQUIRE(dns.options == std::vector<std::string>{"ndots:5"});
}
