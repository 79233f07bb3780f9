#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "agent/static_nodes.h"

using namespace shuttle;
using namespace shuttle::agent;

namespace {

// parse_static_nodes' error message for text, or "no error".
std::string static_nodes_error(const std::string& text) {
    try {
        parse_static_nodes(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

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
    using Catch::Matchers::StartsWith;
    REQUIRE_THAT(static_nodes_error("nope"), StartsWith("static nodes: not a JSON list"));
    REQUIRE_THAT(static_nodes_error("[]"), StartsWith("static nodes: the list is empty"));
    REQUIRE_THAT(
        static_nodes_error(
            R"([{"subnet":"10.244.1.5/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01"}])"),
        StartsWith("static nodes[0].subnet:"));
    REQUIRE_THAT(
        static_nodes_error(
            R"([{"subnet":"10.244.1.0/24","PublicIP":"x","VtepMAC":"02:00:00:00:00:01"}])"),
        StartsWith("static nodes[0].PublicIP:"));
    REQUIRE_THAT(static_nodes_error(R"([{"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1"}])"),
                 StartsWith("static nodes[0].VtepMAC: missing"));
    REQUIRE_THAT(
        static_nodes_error(
            R"([{"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01","VNI":0}])"),
        StartsWith("static nodes[0].VNI:"));
    REQUIRE_THAT(
        static_nodes_error(
            R"([{"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01"},
                              {"subnet":"10.244.1.0/25","PublicIP":"192.0.2.2","VtepMAC":"02:00:00:00:00:02"}])"),
        StartsWith("static nodes[1].subnet: 10.244.1.0/25 overlaps nodes[0]"));
    REQUIRE_THAT(
        static_nodes_error(
            R"({"Network":"10.9.0.0/16","Nodes":[{"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01"}]})"),
        StartsWith("static nodes[0].subnet: 10.244.1.0/24 is not in Network"));
}

TEST_CASE("agent static nodes: the IPv6 half, IPv6 network given or covering") {
    auto cluster = parse_static_nodes(R"([
        {"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01",
         "IPv6Subnet":"fd00:10:244:1::/64","PublicIPv6":"fd77::11"},
        {"subnet":"10.244.2.0/24","PublicIP":"192.0.2.2","VtepMAC":"02:00:00:00:00:02",
         "IPv6Subnet":"fd00:10:244:2::/64","PublicIPv6":"fd77::12"}])");
    REQUIRE(cluster.ipv6_network);
    REQUIRE(cluster.ipv6_network->str() == "fd00:10:244::/62");
    REQUIRE(cluster.nodes[1].ipv6_subnet->str() == "fd00:10:244:2::/64");
    REQUIRE(cluster.nodes[1].public_ipv6->str() == "fd77::12");
    // shuttle.<VNI> carries both families: the IPv6 VtepMAC is the node's VtepMAC
    REQUIRE(cluster.nodes[1].vtep_mac_v6 == cluster.nodes[1].vtep_mac);

    auto with_network = parse_static_nodes(R"({"Network":"10.244.0.0/16",
        "IPv6Network":"fd00:10:244::/56","Nodes":[
        {"subnet":"10.244.9.0/24","PublicIP":"192.0.2.9","VtepMAC":"02:00:00:00:00:09",
         "IPv6Subnet":"fd00:10:244:9::/64","PublicIPv6":"fd77::19"}]})");
    REQUIRE(with_network.ipv6_network->str() == "fd00:10:244::/56");

    auto ipv4_only = parse_static_nodes(
        R"([{"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01"}])");
    REQUIRE_FALSE(ipv4_only.ipv6_network);
    REQUIRE_FALSE(ipv4_only.nodes[0].ipv6_subnet);
    REQUIRE_FALSE(ipv4_only.nodes[0].vtep_mac_v6);
}

TEST_CASE("agent static nodes: bad IPv6 halves and shared public addresses are refused") {
    auto node = [](int i, const std::string& v6) {
        auto n = std::to_string(i);
        return R"({"subnet":"10.244.)" + n + R"(.0/24","PublicIP":"192.0.2.)" + n +
               R"(","VtepMAC":"02:00:00:00:00:0)" + n + "\"" + v6 + "}";
    };
    auto list = [](const std::string& a, const std::string& b) { return "[" + a + "," + b + "]"; };
    const std::string good1 = R"(,"IPv6Subnet":"fd00:10:244:1::/64","PublicIPv6":"fd77::11")";
    using Catch::Matchers::StartsWith;
    REQUIRE(static_nodes_error(
                list(node(1, good1),
                     node(2, R"(,"IPv6Subnet":"fd00:10:244:2::/64","PublicIPv6":"fd77::12")"))) ==
            "no error");
    REQUIRE_THAT(
        static_nodes_error(list(node(1, good1), node(2, R"(,"IPv6Subnet":"fd00:10:244:2::/64")"))),
        StartsWith("static nodes[1].PublicIPv6: missing"));
    REQUIRE_THAT(static_nodes_error(list(node(1, good1), node(2, R"(,"PublicIPv6":"fd77::12")"))),
                 StartsWith("static nodes[1].IPv6Subnet: missing"));
    REQUIRE_THAT(static_nodes_error(list(node(1, good1), node(2, ""))),
                 StartsWith("static nodes[1].IPv6Subnet: missing (every node has one, or none)"));
    REQUIRE_THAT(static_nodes_error(list(node(1, ""), node(2, good1))),
                 StartsWith("static nodes[0].IPv6Subnet: missing (every node has one, or none)"));
    REQUIRE_THAT(
        static_nodes_error(
            list(node(1, good1),
                 node(2, R"(,"IPv6Subnet":"fd00:10:244:2::5/64","PublicIPv6":"fd77::12")"))),
        StartsWith("static nodes[1].IPv6Subnet: \"fd00:10:244:2::5/64\" is not an IPv6 subnet"));
    REQUIRE_THAT(
        static_nodes_error(list(node(1, good1),
                                node(2, R"(,"IPv6Subnet":"10.9.0.0/16","PublicIPv6":"fd77::12")"))),
        StartsWith("static nodes[1].IPv6Subnet:"));
    REQUIRE_THAT(static_nodes_error(list(
                     node(1, good1),
                     node(2, R"(,"IPv6Subnet":"fd00:10:244:2::/64","PublicIPv6":"192.0.2.2")"))),
                 StartsWith("static nodes[1].PublicIPv6: \"192.0.2.2\" is not IPv6"));
    REQUIRE_THAT(
        static_nodes_error(
            list(node(1, good1), node(2, R"(,"IPv6Subnet":"fd00:10:244:2::/64","PublicIPv6":7)"))),
        StartsWith("static nodes[1].PublicIPv6: missing or not a string"));
    REQUIRE_THAT(static_nodes_error(list(
                     node(1, good1),
                     node(2, R"(,"IPv6Subnet":"fd00:10:244:1::/80","PublicIPv6":"fd77::12")"))),
                 StartsWith("static nodes[1].IPv6Subnet: fd00:10:244:1::/80 overlaps nodes[0]"));
    REQUIRE_THAT(static_nodes_error(list(
                     node(1, good1),
                     node(2, R"(,"IPv6Subnet":"fd00:10:244:2::/64","PublicIPv6":"fd77::11")"))),
                 StartsWith("static nodes[1].PublicIPv6: fd77::11 is nodes[0]'s too"));
    REQUIRE_THAT(
        static_nodes_error(R"({"IPv6Network":"fd00:9::/56","Nodes":[)" + node(1, good1) + "]}"),
        StartsWith("static nodes[0].IPv6Subnet: fd00:10:244:1::/64 is not in IPv6Network "
                   "fd00:9::/56"));
    REQUIRE_THAT(
        static_nodes_error(R"({"IPv6Network":"10.0.0.0/8","Nodes":[)" + node(1, good1) + "]}"),
        StartsWith("static nodes: IPv6Network is not an IPv6 CIDR"));
    REQUIRE_THAT(
        static_nodes_error(R"({"IPv6Network":"fd00:9::/56","Nodes":[)" + node(1, "") + "]}"),
        StartsWith("static nodes: IPv6Network given, but no node has an IPv6Subnet"));
    REQUIRE_THAT(
        static_nodes_error(list(node(1, ""), R"({"subnet":"10.244.2.0/24","PublicIP":"192.0.2.1",
                                               "VtepMAC":"02:00:00:00:00:02"})")),
        StartsWith("static nodes[1].PublicIP: 192.0.2.1 is nodes[0]'s too"));
}
