#include <catch2/catch.hpp>

#include "agent/static_nodes.h"

using namespace shuttle;
using namespace shuttle::agent;

TEST_CASE("agent static nodes: the issue's list, network from the subnets") {
    auto cluster = parse_static_nodes(R"([
        {"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01","VNI":1},
        {"subnet":"10.244.2.0/24","PublicIP":"192.0.2.2","VtepMAC":"02:00:00:00:00:02"}])");
    REQUIRE(cluster.nodes.size() == 2);
    REQUIRE(cluster.network.str() == "10.244.0.0/22");
    REQUIRE(cluster.nodes[1].vni == 1);
    REQUIRE(cluster.nodes[1].vtep_mac.str() == "02:00:00:00:00:02");
    REQUIRE(cluster.nodes[0].public_ip.str() == "192.0.2.1");

    auto with_network = parse_static_nodes(R"({"Network":"10.244.0.0/16","Nodes":[
        {"subnet":"10.244.9.0/24","PublicIP":"192.0.2.9","VtepMAC":"02:00:00:00:00:09","VNI":5}]})");
    REQUIRE(with_network.network.str() == "10.244.0.0/16");
    REQUIRE(with_network.nodes[0].vni == 5);
}

TEST_CASE("agent static nodes: errors name the entry and field") {
    auto error_of = [](const std::string& text) {
        try {
            parse_static_nodes(text);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    using Catch::Matchers::StartsWith;
    REQUIRE_THAT(error_of("nope"), StartsWith("static nodes: not a JSON list"));
    REQUIRE_THAT(error_of("[]"), StartsWith("static nodes: the list is empty"));
    REQUIRE_THAT(
        error_of(
            R"([{"subnet":"10.244.1.5/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01"}])"),
        StartsWith("static nodes[0].subnet:"));
    REQUIRE_THAT(
        error_of(R"([{"subnet":"10.244.1.0/24","PublicIP":"x","VtepMAC":"02:00:00:00:00:01"}])"),
        StartsWith("static nodes[0].PublicIP:"));
    REQUIRE_THAT(error_of(R"([{"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1"}])"),
                 StartsWith("static nodes[0].VtepMAC: missing"));
    REQUIRE_THAT(
        error_of(
            R"([{"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01","VNI":0}])"),
        StartsWith("static nodes[0].VNI:"));
    REQUIRE_THAT(
        error_of(
            R"([{"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01"},
                              {"subnet":"10.244.1.0/25","PublicIP":"192.0.2.2","VtepMAC":"02:00:00:00:00:02"}])"),
        StartsWith("static nodes[1].subnet: 10.244.1.0/25 overlaps nodes[0]"));
    REQUIRE_THAT(
        error_of(
            R"({"Network":"10.9.0.0/16","Nodes":[{"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01"}]})"),
        StartsWith("static nodes[0].subnet: 10.244.1.0/24 is not in Network"));
}
