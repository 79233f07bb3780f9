// The masquerade table's text and the JSON listing parser; no kernel.

#include <catch2/catch.hpp>
#include <stdexcept>

#include "masquerade/masquerade.h"
#include "address_literals.h"

using namespace shuttle;
using namespace shuttle::masquerade;

namespace {

masquerade::Config node1() {
    return {.cluster_network = prefix("10.244.0.0/16"), .node_subnet = prefix("10.244.1.0/24")};
}

}  // namespace

TEST_CASE("masquerade table text is flannel's rule list in nft's canonical form") {
    REQUIRE(table_text(node1()) ==
            "table ip shuttle {\n"
            "\tcomment \"shuttle masquerade: cluster 10.244.0.0/16, node subnet 10.244.1.0/24\"\n"
            "\tchain postrouting {\n"
            "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
            "\t\tmeta mark & 0x00004000 == 0x00004000 return comment \"kube-proxy marked: "
            "kube-proxy masquerades it\"\n"
            "\t\tip saddr 10.244.1.0/24 ip daddr 10.244.0.0/16 return comment \"pod to cluster: "
            "keep pod addresses\"\n"
            "\t\tip saddr 10.244.0.0/16 ip daddr 10.244.1.0/24 return comment \"cluster to pod\"\n"
            "\t\tip saddr != 10.244.0.0/16 ip daddr 10.244.1.0/24 return comment \"outside to pod: "
            "keep the client address\"\n"
            "\t\tip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random comment "
            "\"pod to outside: masquerade, except multicast\"\n"
            "\t\tip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade fully-random comment "
            "\"host to cluster: masquerade\"\n"
            "\t}\n"
            "}\n");
}

TEST_CASE("masquerade ensure script declares, deletes and redefines the table in one batch") {
    std::string script = ensure_script(node1());
    REQUIRE(script.rfind("table ip shuttle\ndelete table ip shuttle\ntable ip shuttle {\n", 0) ==
            0);
}

TEST_CASE("masquerade config: host bits are dropped, bad configs are refused") {
    masquerade::Config with_host_bits{.cluster_network = prefix("10.244.0.0/16"),
                                      .node_subnet = prefix("10.244.1.1/24")};
    REQUIRE(table_text(with_host_bits).find("ip saddr 10.244.1.0/24 ip daddr") !=
            std::string::npos);
    masquerade::Config outside{.cluster_network = prefix("10.244.0.0/16"),
                               .node_subnet = prefix("10.245.1.0/24")};
    REQUIRE_THROWS_AS(table_text(outside), std::invalid_argument);
    masquerade::Config mixed{.cluster_network = prefix("fd00::/48"),
                             .node_subnet = prefix("10.244.1.0/24")};
    REQUIRE_THROWS_AS(table_text(mixed), std::invalid_argument);
}

TEST_CASE("masquerade IPv6: the same rules in table ip6 shuttle, multicast ff00::/8") {
    masquerade::Config v6{.cluster_network = prefix("fd00:10:244::/56"),
                          .node_subnet = prefix("fd00:10:244:1::/64")};
    REQUIRE(table_ref(AF_INET6) == "ip6 shuttle");
    REQUIRE(
        table_text(v6) ==
        "table ip6 shuttle {\n"
        "\tcomment \"shuttle masquerade: cluster fd00:10:244::/56, node subnet "
        "fd00:10:244:1::/64\"\n"
        "\tchain postrouting {\n"
        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        "\t\tmeta mark & 0x00004000 == 0x00004000 return comment \"kube-proxy marked: "
        "kube-proxy masquerades it\"\n"
        "\t\tip6 saddr fd00:10:244:1::/64 ip6 daddr fd00:10:244::/56 return comment \"pod to "
        "cluster: keep pod addresses\"\n"
        "\t\tip6 saddr fd00:10:244::/56 ip6 daddr fd00:10:244:1::/64 return comment \"cluster "
        "to pod\"\n"
        "\t\tip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244:1::/64 return comment \"outside "
        "to pod: keep the client address\"\n"
        "\t\tip6 saddr fd00:10:244::/56 ip6 daddr != ff00::/8 masquerade fully-random comment "
        "\"pod to outside: masquerade, except multicast\"\n"
        "\t\tip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244::/56 masquerade fully-random "
        "comment \"host to cluster: masquerade\"\n"
        "\t}\n"
        "}\n");
    REQUIRE(ensure_script(v6).rfind("table ip6 shuttle\ndelete table ip6 shuttle\ntable ip6", 0) ==
            0);
}

TEST_CASE("masquerade plugin config: the node subnet is the cluster without a network") {
    masquerade::Config alone = plugin_config(prefix("10.22.0.5/24"));
    REQUIRE(alone.cluster_network.str() == "10.22.0.0/24");
    REQUIRE(alone.node_subnet.str() == "10.22.0.0/24");
    REQUIRE(table_text(alone).find("ip saddr 10.22.0.0/24 ip daddr != 224.0.0.0/4 masquerade") !=
            std::string::npos);
    masquerade::Config flannel = plugin_config(prefix("10.244.1.1/24"), prefix("10.244.0.0/16"));
    REQUIRE(flannel.cluster_network.str() == "10.244.0.0/16");
    REQUIRE(flannel.node_subnet.str() == "10.244.1.0/24");
}

TEST_CASE("masquerade listing parser reads chain, rules and the config back") {
    const char* listing = R"({"nftables":[
      {"metainfo":{"version":"1.0.6","json_schema_version":1}},
      {"table":{"family":"ip","name":"shuttle","handle":3}},
      {"chain":{"family":"ip","table":"shuttle","name":"postrouting","handle":1,"type":"nat",
                "hook":"postrouting","prio":100,"policy":"accept"}},
      {"rule":{"family":"ip","table":"shuttle","chain":"postrouting","handle":3,
               "comment":"pod to cluster: keep pod addresses","expr":[
        {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},
                  "right":{"prefix":{"addr":"10.244.1.0","len":24}}}},
        {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},
                  "right":{"prefix":{"addr":"10.244.0.0","len":16}}}},
        {"return":null}]}}]})";
    Status status = parse_listing(listing);
    REQUIRE(status.installed);
    REQUIRE(status.chain_type == "nat");
    REQUIRE(status.chain_hook == "postrouting");
    REQUIRE(status.chain_priority == 100);
    REQUIRE(status.rules.size() == 1);
    REQUIRE(status.rules[0].comment == "pod to cluster: keep pod addresses");
    REQUIRE(status.config);
    REQUIRE(status.config->cluster_network.str() == "10.244.0.0/16");
    REQUIRE(status.config->node_subnet.str() == "10.244.1.0/24");

    REQUIRE_FALSE(parse_listing(R"({"nftables":[]})").installed);
}
