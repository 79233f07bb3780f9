#include <catch2/catch.hpp>

#include "cni/error.h"
#include "cni/result.h"

using namespace shuttle;
using namespace shuttle::cni;

namespace {

Result sample() {
    Result r;
    r.interfaces.push_back({"shab12", "02:00:00:00:00:01", 1450, "", "", ""});
    r.interfaces.push_back({"eth0", "02:00:00:00:00:02", 1450, "/run/netns/p", "", ""});
    r.ips.push_back({*IpPrefix::parse("10.1.0.5/24"), IpAddress::parse("10.1.0.1"), 1});
    Route def{*IpPrefix::parse("0.0.0.0/0"), IpAddress::parse("10.1.0.1"), {}, {}, {}, {}, {}};
    def.mtu = 1400;
    r.routes.push_back(def);
    r.dns.nameservers = {"10.96.0.10"};
    return r;
}

}  // namespace

TEST_CASE("1.1.0 results carry interface MTU and route extras") {
    REQUIRE(result_json(sample(), "1.1.0").dump() ==
            R"({"cniVersion":"1.1.0","dns":{"nameservers":["10.96.0.10"]},)"
            R"("interfaces":[{"mac":"02:00:00:00:00:01","mtu":1450,"name":"shab12"},)"
            R"({"mac":"02:00:00:00:00:02","mtu":1450,"name":"eth0","sandbox":"/run/netns/p"}],)"
            R"("ips":[{"address":"10.1.0.5/24","gateway":"10.1.0.1","interface":1}],)"
            R"("routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1","mtu":1400}]})");
}

TEST_CASE("1.0.0 results have no MTU and no ip version") {
    REQUIRE(result_json(sample(), "1.0.0").dump() ==
            R"({"cniVersion":"1.0.0","dns":{"nameservers":["10.96.0.10"]},)"
            R"("interfaces":[{"mac":"02:00:00:00:00:01","name":"shab12"},)"
            R"({"mac":"02:00:00:00:00:02","name":"eth0","sandbox":"/run/netns/p"}],)"
            R"("ips":[{"address":"10.1.0.5/24","gateway":"10.1.0.1","interface":1}],)"
            R"("routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"}]})");
}

TEST_CASE("0.3.x and 0.4.0 results carry the ip version") {
    for (auto version : {"0.3.0", "0.3.1", "0.4.0"}) {
        auto j = result_json(sample(), version);
        REQUIRE(j["cniVersion"] == version);
        REQUIRE(j["ips"][0]["version"] == "4");
        REQUIRE(j["ips"][0]["interface"] == 1);
        REQUIRE_FALSE(j["interfaces"][0].contains("mtu"));
    }
}

TEST_CASE("results of every version parse back into the same model") {
    for (auto version : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
        auto back = parse_result(result_json(sample(), version));
        REQUIRE(back.interfaces.size() == 2);
        REQUIRE(back.interfaces[1].sandbox == "/run/netns/p");
        REQUIRE(back.ips[0].address.str() == "10.1.0.5/24");
        REQUIRE(back.ips[0].gateway->str() == "10.1.0.1");
        REQUIRE(back.ips[0].interface == 1);
        REQUIRE(back.routes[0].gw->str() == "10.1.0.1");
        REQUIRE(back.dns.nameservers[0] == "10.96.0.10");
    }
}

TEST_CASE("dual-stack results at every version: both families, ::/0, version \"6\"") {
    Result r = sample();
    r.ips.push_back({*IpPrefix::parse("fd00:10:1::5/64"), IpAddress::parse("fd00:10:1::1"), 1});
    r.routes.push_back(
        {*IpPrefix::parse("::/0"), IpAddress::parse("fd00:10:1::1"), {}, {}, {}, {}, {}});
    for (auto version : {"0.3.0", "0.3.1", "0.4.0"}) {
        auto j = result_json(r, version);
        REQUIRE(
            j["ips"][1].dump() ==
            R"({"address":"fd00:10:1::5/64","gateway":"fd00:10:1::1","interface":1,"version":"6"})");
    }
    for (auto version : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
        auto j = result_json(r, version);
        REQUIRE(j["routes"][1].dump() == R"({"dst":"::/0","gw":"fd00:10:1::1"})");
        auto back = parse_result(j);
        REQUIRE(back.ips.size() == 2);
        REQUIRE(back.ips[1].address.str() == "fd00:10:1::5/64");
        REQUIRE(gateway_of(back.ips, AF_INET6)->str() == "fd00:10:1::1");
        REQUIRE(gateway_of(back.ips, AF_INET)->str() == "10.1.0.1");
        REQUIRE(first_of_family(back.ips, AF_INET6)->address.str() == "fd00:10:1::5/64");
    }
    REQUIRE(result_json(r, "1.0.0")["ips"][1].dump() ==
            R"({"address":"fd00:10:1::5/64","gateway":"fd00:10:1::1","interface":1})");
}

TEST_CASE("a malformed prevResult is code 6 naming the field") {
    try {
        parse_result(nlohmann::json::parse(R"({"ips":[{"address":"10.1.0.5"}]})"), "prevResult");
        FAIL("no error");
    } catch (const Error& e) {
        REQUIRE(e.code() == kDecodeFailure);
        REQUIRE(e.msg() == "invalid prevResult.ips[0].address");
    }
}
