#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "cni/error.h"
#include "plugin/attachment.h"
#include "plugin/host_veth.h"
#include "plugin/network.h"

#include "temp_dir.h"

using namespace shuttle;
using namespace shuttle::plugin;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
    std::ofstream(p) << text;
}

cni::NetConf with_subnet_file(const std::string& path, const std::string& extra = "") {
    return cni::parse_netconf(R"({"cniVersion":"0.3.1","name":"cbr0","type":"shuttle",)" + extra +
                              R"("subnetFile":")" + path + R"("})");
}

}  // namespace

TEST_CASE("host veth names are deterministic, 15 characters, and salted per attempt") {
    auto a = host_veth_name("0123456789abcdef", "eth0");
    REQUIRE(a == host_veth_name("0123456789abcdef", "eth0"));
    REQUIRE(a.size() == 15);
    REQUIRE(a.rfind("sh", 0) == 0);
    REQUIRE(is_host_veth_name(a));
    REQUIRE_FALSE(is_host_veth_name("eth0"));
    REQUIRE_FALSE(is_host_veth_name("shXYZ0123456789"));
    REQUIRE(a != host_veth_name("0123456789abcdef", "eth1"));
    REQUIRE(a != host_veth_name("0123456789abcdeg", "eth0"));
    REQUIRE(a != host_veth_name("0123456789abcdef", "eth0", 1));
    std::set<std::string> names;
    for (int i = 0; i < 10000; ++i)
        names.insert(host_veth_name("ctr" + std::to_string(i), "eth0"));
    REQUIRE(names.size() == 10000);
}

TEST_CASE("subnetFile supplies ranges, routes and MTU as flannel's meta plugin does") {
    testing::TempDir tmp("plugin");
    write(tmp.path / "subnet.env",
          "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\n"
          "FLANNEL_IPMASQ=true\n");
    auto net = load_network(with_subnet_file((tmp.path / "subnet.env").string()),
                            SubnetFileNeed::Required);
    REQUIRE(net.builtin_ipam);
    REQUIRE(net.ipam_type == "host-local");
    REQUIRE(net.mtu == 1450);
    REQUIRE(net.node_subnet->str() == "10.244.3.0/24");
    REQUIRE(net.ipam.range_sets.size() == 1);
    REQUIRE(net.ipam.range_sets[0][0].str() == "10.244.3.1-10.244.3.254");
    REQUIRE(net.ipam.routes.size() == 1);
    REQUIRE(net.ipam.routes[0].dst.str() == "10.244.0.0/16");
    REQUIRE(net.effective_config["ipam"]["ranges"][0][0]["subnet"] == "10.244.3.0/24");
    REQUIRE_FALSE(net.masquerade);  // flanneld masquerades
    REQUIRE(net.state_dir == "/var/lib/cni/shuttle/cbr0");
}

TEST_CASE("a dual-stack subnetFile adds an IPv6 range set and route, as flannel's plugin does") {
    testing::TempDir tmp("plugin");
    write(tmp.path / "subnet.env",
          "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\n"
          "FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\n"
          "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
    auto net = load_network(with_subnet_file((tmp.path / "subnet.env").string()),
                            SubnetFileNeed::Required);
    REQUIRE(net.node_subnet->str() == "10.244.3.0/24");
    REQUIRE(net.node_subnet6->str() == "fd00:10:244:3::/64");
    REQUIRE(net.ipam.range_sets.size() == 2);
    REQUIRE(net.ipam.range_sets[1][0].str() ==
            "fd00:10:244:3::1-fd00:10:244:3:ffff:ffff:ffff:ffff");
    REQUIRE(net.ipam.routes.size() == 2);
    REQUIRE(net.ipam.routes[1].dst.str() == "fd00:10:244::/56");
    REQUIRE(net.effective_config["ipam"]["ranges"][1][0]["subnet"] == "fd00:10:244:3::/64");

    write(tmp.path / "subnet.env",
          "FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\n"
          "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n");
    net = load_network(with_subnet_file((tmp.path / "subnet.env").string()),
                       SubnetFileNeed::Required);
    REQUIRE_FALSE(net.node_subnet);
    REQUIRE(net.ipam.range_sets.size() == 1);
    REQUIRE(net.ipam.range_sets[0][0].subnet.str() == "fd00:10:244:3::/64");
    REQUIRE(net.ipam.routes.size() == 1);
}

TEST_CASE("the plugin masquerades only when ipMasq and not FLANNEL_IPMASQ") {
    testing::TempDir tmp("plugin");
    auto env = tmp.path / "subnet.env";
    write(env,
          "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\n"
          "FLANNEL_IPMASQ=false\n");
    REQUIRE(load_network(with_subnet_file(env.string()), SubnetFileNeed::Required).masquerade);
    REQUIRE_FALSE(
        load_network(with_subnet_file(env.string(), R"("ipMasq":false,)"), SubnetFileNeed::Required)
            .masquerade);
    write(env,
          "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\n"
          "FLANNEL_IPMASQ=true\n");
    REQUIRE_FALSE(
        load_network(with_subnet_file(env.string(), R"("ipMasq":true,)"), SubnetFileNeed::Required)
            .masquerade);
}

TEST_CASE("an explicit mtu wins over FLANNEL_MTU, a missing subnet file is code 11 for ADD") {
    testing::TempDir tmp("plugin");
    auto env = tmp.path / "subnet.env";
    write(env,
          "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\n"
          "FLANNEL_IPMASQ=true\n");
    REQUIRE(load_network(with_subnet_file(env.string(), R"("mtu":1300,)"), SubnetFileNeed::Required)
                .mtu == 1300);
    auto missing = with_subnet_file((tmp.path / "nope.env").string());
    try {
        load_network(missing, SubnetFileNeed::Required);
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kTryAgainLater);
    }
    auto del = load_network(missing, SubnetFileNeed::Optional);  // DEL carries on
    REQUIRE_FALSE(del.subnet_env);
    REQUIRE(del.ipam.data_dir == "/var/lib/cni/networks");
    write(env, "FLANNEL_NETWORK=10.244.0.0/16\n");
    try {
        load_network(with_subnet_file(env.string()), SubnetFileNeed::Required);
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kInvalidConfig);
    }
}

TEST_CASE("other ipam types are delegated, records go next to the IPAM store or to dataDir") {
    auto conf = cni::parse_netconf(
        R"({"cniVersion":"1.0.0","name":"n1","type":"shuttle","ipam":{"type":"static"}})");
    auto net = load_network(conf, SubnetFileNeed::Required);
    REQUIRE_FALSE(net.builtin_ipam);
    REQUIRE(net.ipam_type == "static");
    REQUIRE(net.state_dir == "/var/lib/cni/shuttle/n1");
    conf = cni::parse_netconf(
        R"({"cniVersion":"1.0.0","name":"n1","type":"shuttle","dataDir":"/x/state",)"
        R"("ipam":{"type":"host-local","subnet":"10.1.0.0/24","dataDir":"/y/networks"}})");
    REQUIRE(load_network(conf, SubnetFileNeed::Required).state_dir == "/x/state/n1");
    REQUIRE(state_dir_for("/y/networks", "n1") == "/y/shuttle/n1");
}

TEST_CASE("attachment records round-trip and list") {
    testing::TempDir tmp("plugin");
    AttachmentStore store((tmp.path / "n1").string());
    AttachmentRecord r;
    r.container_id = "abc";
    r.ifname = "eth0";
    r.netns = "/run/netns/p";
    r.host_ifname = "sh0123456789abc";
    r.pod_namespace = "kube-system";
    r.pod_name = "coredns-1";
    r.addresses = {*IpPrefix::parse("10.1.0.5/24")};
    r.gateway = IpAddress::parse("10.1.0.1");
    r.ipam_type = "static";
    r.delegate_config = {{"ipam", {{"type", "static"}}}};
    store.save(r);
    auto back = store.load("abc", "eth0");
    REQUIRE(back);
    REQUIRE(record_json(*back) == record_json(r));
    REQUIRE(back->pod_name == "coredns-1");
    REQUIRE(store.list().size() == 1);
    REQUIRE_FALSE(store.load("abc", "eth1"));
    store.remove("abc", "eth0");
    store.remove("abc", "eth0");  // idempotent
    REQUIRE(store.list().empty());
}
