#include <catch2/catch.hpp>

#include "common/ip.h"

using shuttle::IpAddress;
using shuttle::IpPrefix;
using shuttle::MacAddress;

TEST_CASE("IPv4 and IPv6 addresses parse and print back") {
    REQUIRE(IpAddress::parse("10.244.1.7")->str() == "10.244.1.7");
    REQUIRE(IpAddress::parse("fd00::1")->str() == "fd00::1");
    REQUIRE_FALSE(IpAddress::parse("10.244.1"));
    REQUIRE_FALSE(IpAddress::parse("10.244.1.7/24"));
    REQUIRE(IpAddress::v4(0x0af40107).str() == "10.244.1.7");
    REQUIRE(IpAddress::parse("10.244.1.7")->v4_host_order() == 0x0af40107);
}

TEST_CASE("prefixes keep host bits, network() clears them") {
    auto p = IpPrefix::parse("10.244.1.1/24");
    REQUIRE(p);
    REQUIRE(p->str() == "10.244.1.1/24");
    REQUIRE(p->network().str() == "10.244.1.0/24");
    REQUIRE(IpPrefix::parse("10.244.0.0/16")->contains(*IpPrefix::parse("10.244.3.0/24")));
    REQUIRE_FALSE(IpPrefix::parse("10.244.3.0/24")->contains(*IpPrefix::parse("10.244.0.0/16")));
    REQUIRE(p->contains(*IpAddress::parse("10.244.1.200")));
    REQUIRE_FALSE(p->contains(*IpAddress::parse("10.244.2.1")));
    REQUIRE_FALSE(IpPrefix::parse("10.0.0.0/33"));
    REQUIRE_FALSE(IpPrefix::parse("10.0.0.0/"));
    REQUIRE_FALSE(IpPrefix::parse("10.0.0.0/2x"));
    REQUIRE(IpPrefix::parse("fd00:1::5/64")->network().str() == "fd00:1::/64");
}

TEST_CASE("MAC addresses parse strictly") {
    REQUIRE(MacAddress::parse("0a:58:0a:f4:01:07")->str() == "0a:58:0a:f4:01:07");
    REQUIRE_FALSE(MacAddress::parse("0a:58:0a:f4:01"));
    REQUIRE_FALSE(MacAddress::parse("0a:58:0a:f4:01:07:00"));
}
