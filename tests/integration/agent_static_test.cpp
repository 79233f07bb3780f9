#include <catch2/catch.hpp>

#include <fstream>
#include <mutex>
#include <thread>

#include "agent/static_nodes.h"
#include "etcd_test_server.h"
#include "flannel/subnet_env.h"

using namespace shuttle;
using namespace shuttle::agent;
using namespace std::chrono_literals;
using shuttle::test::eventually;
using shuttle::test::TempDir;

TEST_CASE("agent static nodes: subnet.env, on_lease, peers, reload on change") {
    TempDir dir("static");
    auto file = dir.path() + "/nodes.json";
    auto write = [&](const std::string& text) { std::ofstream(file) << text; };
    const std::string a =
        R"({"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01"})";
    const std::string b =
        R"({"subnet":"10.244.2.0/24","PublicIP":"192.0.2.2","VtepMAC":"02:00:00:00:00:02"})";
    const std::string c =
        R"({"subnet":"10.244.3.0/24","PublicIP":"192.0.2.3","VtepMAC":"02:00:00:00:00:03"})";
    write(R"({"Network":"10.244.0.0/16","Nodes":[)" + a + "," + b + "]}");

    std::mutex mutex;
    PeerMap peers;
    std::vector<MacAddress> applied;
    AgentOptions options;
    options.public_ip = *IpAddress::parse("192.0.2.1");
    options.subnet_file = dir.path() + "/subnet.env";
    options.underlay_mtu = 1500;
    std::vector<std::string> seen;  // checked on the test thread: Catch is not thread-safe
    options.on_lease = [&](const Lease& lease, const NetworkConfig& config) {
        std::lock_guard lock(mutex);
        seen.push_back(lease.subnet.str() + " in " + config.network.str());
        applied.push_back(lease.vtep_mac);
    };
    StaticAgent agent(
        options, file,
        [&](const PeerMap& p) {
            std::lock_guard lock(mutex);
            peers = p;
        },
        100ms);
    std::atomic<bool> stop{false};
    std::thread runner([&] { agent.run(stop); });
    auto peer_count = [&] {
        std::lock_guard lock(mutex);
        return peers.size();
    };
    CHECK(eventually([&] { return agent.readiness().first; }));
    CHECK(peer_count() == 1);
    auto env = flannel::read_subnet_env(options.subnet_file);
    REQUIRE(env);
    CHECK(env->subnet.str() == "10.244.1.1/24");
    CHECK(env->network.str() == "10.244.0.0/16");
    CHECK(env->mtu == 1450);

    write(R"({"Network":"10.244.0.0/16","Nodes":[)" + a + "," + b + "," + c + "]}");
    CHECK(eventually([&] { return peer_count() == 2; }));
    write("broken");  // the last good state stays
    CHECK(eventually(
        [&] { return agent.readiness().second.find("not a JSON list") != std::string::npos; }));
    CHECK(peer_count() == 2);
    CHECK(agent.readiness().first);
    stop = true;
    agent.wake();
    runner.join();
    std::lock_guard lock(mutex);
    CHECK(applied.size() == 1);  // the same subnet and MAC are applied once
    CHECK(seen == std::vector<std::string>{"10.244.1.0/24 in 10.244.0.0/16"});
}

TEST_CASE("agent static nodes: IPv6 halves make a dual-stack lease, peers and subnet.env") {
    TempDir dir("static6");
    auto file = dir.path() + "/nodes.json";
    auto write = [&](const std::string& text) { std::ofstream(file) << text; };
    auto nodes = [](const std::string& own_public_ipv6) {
        return R"({"Network":"10.244.0.0/16","IPv6Network":"fd00:10:244::/56","Nodes":[
            {"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:00:00:00:00:01",
             "IPv6Subnet":"fd00:10:244:1::/64","PublicIPv6":")" +
               own_public_ipv6 + R"("},
            {"subnet":"10.244.2.0/24","PublicIP":"192.0.2.2","VtepMAC":"02:00:00:00:00:02",
             "IPv6Subnet":"fd00:10:244:2::/64","PublicIPv6":"fd77::12","VNI":1}]})";
    };
    write(nodes("fd77::99"));  // not this node's PublicIPv6: refused

    std::mutex mutex;
    PeerMap peers;
    std::vector<std::string> seen;  // checked on the test thread: Catch is not thread-safe
    AgentOptions options;
    options.public_ip = *IpAddress::parse("192.0.2.1");
    options.public_ipv6 = *IpAddress::parse("fd77::11");
    options.subnet_file = dir.path() + "/subnet.env";
    options.on_lease = [&](const Lease& lease, const NetworkConfig& config) {
        std::lock_guard lock(mutex);
        seen.push_back(lease.subnet.str() + " " +
                       (lease.ipv6_subnet ? lease.ipv6_subnet->str() : "-") + " " +
                       (lease.vtep_mac_v6 ? lease.vtep_mac_v6->str() : "-") + " ipv6 " +
                       (config.enable_ipv6 ? config.ipv6_network.str() : "off"));
    };
    StaticAgent agent(
        options, file,
        [&](const PeerMap& p) {
            std::lock_guard lock(mutex);
            peers = p;
        },
        100ms);
    std::atomic<bool> stop{false};
    std::thread runner([&] { agent.run(stop); });
    CHECK(eventually([&] {
        return agent.readiness().second.find(
                   "this node's entry has PublicIPv6 fd77::99, but the node's is fd77::11") !=
               std::string::npos;
    }));
    CHECK_FALSE(agent.readiness().first);

    write(nodes("fd77::11"));
    CHECK(eventually([&] { return agent.readiness().first; }));
    stop = true;
    agent.wake();
    runner.join();
    auto env = flannel::read_subnet_env(options.subnet_file);
    REQUIRE(env);
    CHECK(env->ipv6_network->str() == "fd00:10:244::/56");
    CHECK(env->ipv6_subnet->str() == "fd00:10:244:1::1/64");
    std::lock_guard lock(mutex);
    CHECK(seen == std::vector<std::string>{
                      "10.244.1.0/24 fd00:10:244:1::/64 02:00:00:00:00:01 ipv6 fd00:10:244::/56"});
    REQUIRE(peers.size() == 1);
    const auto& peer = peers.begin()->second;
    CHECK(peer.ipv6_subnet->str() == "fd00:10:244:2::/64");
    CHECK(peer.public_ipv6->str() == "fd77::12");
    CHECK(peer.vtep_mac_v6->str() == "02:00:00:00:00:02");
}
