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
