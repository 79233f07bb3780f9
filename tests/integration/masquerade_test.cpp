// The masquerade table, in throwaway anonymous network namespaces only: rules read back
// through libnftables' JSON listing, and real TCP connections through a node namespace.

#include <arpa/inet.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/system_error.h"
#include "common/unique_fd.h"
#include "masquerade/masquerade.h"
#include "netlink/netlink.h"
#include "netns/guard.h"
#include "netns/sysctl.h"
#include "address_literals.h"

using namespace shuttle;
using nlohmann::json;

namespace {

masquerade::Config node1() {
    return {.cluster_network = prefix("10.244.0.0/16"), .node_subnet = prefix("10.244.1.0/24")};
}

// The whole ruleset of the current namespace as nft's JSON, read independently of the
// module under test.
json list_ruleset() {
    std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
    nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_JSON);
    nft_ctx_buffer_output(ctx.get());
    nft_ctx_buffer_error(ctx.get());
    REQUIRE(nft_run_cmd_from_buffer(ctx.get(), "list ruleset") == 0);
    return json::parse(nft_ctx_get_output_buffer(ctx.get()))["nftables"];
}

std::vector<json> objects(const json& ruleset, const char* kind) {
    std::vector<json> result;
    for (const auto& item : ruleset) {
        if (item.contains(kind)) {
            result.push_back(item[kind]);
        }
    }
    return result;
}

void run_nft(const char* commands) {
    std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
    nft_ctx_buffer_error(ctx.get());
    REQUIRE(nft_run_cmd_from_buffer(ctx.get(), commands) == 0);
}

json match(const char* field, const char* op, const char* addr, int len) {
    return {{"match",
             {{"op", op},
              {"left", {{"payload", {{"protocol", "ip"}, {"field", field}}}}},
              {"right", {{"prefix", {{"addr", addr}, {"len", len}}}}}}}};
}

// ---- traffic -------------------------------------------------------------------------

sockaddr_in socket_address(const char* ip, uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    inet_pton(AF_INET, ip, &address.sin_addr);
    return address;
}

// A listening TCP socket made inside `netns_fd` (a socket stays in the namespace it was
// made in).
UniqueFd listen_in(int netns_fd, const char* ip, uint16_t port) {
    netns::Guard in(netns_fd);
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address = socket_address(ip, port);
    if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd.get(), 8) != 0) {
        throw_errno(std::string("listen on ") + ip);
    }
    return fd;
}

// Connects from inside `netns_fd`; false when no connection within the timeout.
bool connect_from(int netns_fd, const char* ip, uint16_t port, int timeout_ms) {
    netns::Guard in(netns_fd);
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in address = socket_address(ip, port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        return true;
    }
    if (errno != EINPROGRESS) {
        return false;
    }
    pollfd p{.fd = fd.get(), .events = POLLOUT, .revents = 0};
    if (::poll(&p, 1, timeout_ms) != 1) {
        return false;
    }
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    return error == 0;
}

// The source address the listener saw for its next connection.
std::string accept_peer(int listener) {
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    UniqueFd fd(::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC));
    if (!fd) {
        throw_errno("accept");
    }
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
    return text;
}

// Node namespace (the current thread's) with three neighbours, each an anonymous namespace
// behind a veth:
//   pod     10.244.1.5/24  via 10.244.1.1  (a pod of this node)
//   remote  10.244.2.7/24  via 10.244.2.1  (a pod of another node, in the cluster network)
//   outside 192.168.100.2/24, no route back to 10.244.0.0/16: only a masqueraded
//           connection can complete.
struct Topology {
    netns::Scratch node;
    netlink::Socket nl;
    UniqueFd pod = netns::create_anonymous();
    UniqueFd remote = netns::create_anonymous();
    UniqueFd outside = netns::create_anonymous();

    Topology() {
        netns::write_sysctl("net.ipv4.ip_forward", "1");
        attach(pod.get(), "to-pod", "10.244.1.1/24", "10.244.1.5/24", "10.244.1.1");
        attach(remote.get(), "to-remote", "10.244.2.1/24", "10.244.2.7/24", "10.244.2.1");
        attach(outside.get(), "to-outside", "192.168.100.1/24", "192.168.100.2/24", nullptr);
    }

    void attach(int netns_fd, const char* host_name, const char* host_address,
                const char* guest_address, const char* gateway) {
        netlink::create_veth(nl,
                             {.local = {host_name}, .peer = {"eth0"}, .peer_netns_fd = netns_fd});
        netlink::add_address(nl, host_name, prefix(host_address));
        netlink::set_link_up(nl, host_name);

        netns::Guard in(netns_fd);
        netlink::Socket guest;
        netlink::add_address(guest, "eth0", prefix(guest_address));
        netlink::set_link_up(guest, "eth0");
        netlink::set_link_up(guest, "lo");
        if (gateway) {
            netlink::add_route(
                guest, {.destination = prefix("0.0.0.0/0"), .gateway = IpAddress::parse(gateway)});
        }
    }
};

}  // namespace

TEST_CASE("masquerade: ensure twice leaves one table with exactly flannel's rules") {
    netns::Scratch ns;
    masquerade::ensure(node1());
    masquerade::ensure(node1());

    json ruleset = list_ruleset();
    auto tables = objects(ruleset, "table");
    REQUIRE(tables.size() == 1);
    REQUIRE(tables[0]["family"] == "ip");
    REQUIRE(tables[0]["name"] == "shuttle");
    auto chains = objects(ruleset, "chain");
    REQUIRE(chains.size() == 1);
    REQUIRE(chains[0]["name"] == "postrouting");
    REQUIRE(chains[0]["type"] == "nat");
    REQUIRE(chains[0]["hook"] == "postrouting");
    REQUIRE(chains[0]["prio"] == 100);
    REQUIRE(chains[0]["policy"] == "accept");

    auto rules = objects(ruleset, "rule");
    REQUIRE(rules.size() == 6);
    const json ret = {{"return", nullptr}};
    const json masq = {{"masquerade", {{"flags", "fully-random"}}}};
    const json mark = json::parse(
        R"({"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 16384]},
                      "right": 16384}})");
    REQUIRE(rules[0]["expr"] == json::array({mark, ret}));
    REQUIRE(rules[1]["expr"] == json::array({match("saddr", "==", "10.244.1.0", 24),
                                             match("daddr", "==", "10.244.0.0", 16), ret}));
    REQUIRE(rules[2]["expr"] == json::array({match("saddr", "==", "10.244.0.0", 16),
                                             match("daddr", "==", "10.244.1.0", 24), ret}));
    REQUIRE(rules[3]["expr"] == json::array({match("saddr", "!=", "10.244.0.0", 16),
                                             match("daddr", "==", "10.244.1.0", 24), ret}));
    REQUIRE(rules[4]["expr"] == json::array({match("saddr", "==", "10.244.0.0", 16),
                                             match("daddr", "!=", "224.0.0.0", 4), masq}));
    REQUIRE(rules[5]["expr"] == json::array({match("saddr", "!=", "10.244.0.0", 16),
                                             match("daddr", "==", "10.244.0.0", 16), masq}));

    REQUIRE(masquerade::is_installed(node1()));
    masquerade::Status status = masquerade::inspect();
    REQUIRE(status.installed);
    REQUIRE(status.rules.size() == 6);
    REQUIRE(status.config);
    REQUIRE(status.config->cluster_network == prefix("10.244.0.0/16"));
    REQUIRE(status.config->node_subnet == prefix("10.244.1.0/24"));
    REQUIRE(masquerade::describe() ==
            "table ip shuttle: 6 rules (cluster 10.244.0.0/16, node subnet 10.244.1.0/24)");
}

TEST_CASE("masquerade: is_installed sees drift, ensure repairs it and follows a new config") {
    netns::Scratch ns;
    REQUIRE_FALSE(masquerade::is_installed(node1()));
    masquerade::ensure(node1());
    run_nft("add rule ip shuttle postrouting ip daddr 8.8.8.8 accept");
    REQUIRE_FALSE(masquerade::is_installed(node1()));
    masquerade::ensure(node1());
    REQUIRE(masquerade::is_installed(node1()));

    masquerade::Config moved{.cluster_network = prefix("10.245.0.0/16"),
                             .node_subnet = prefix("10.245.3.0/24")};
    masquerade::ensure(moved);
    REQUIRE(masquerade::is_installed(moved));
    REQUIRE_FALSE(masquerade::is_installed(node1()));
    REQUIRE(objects(list_ruleset(), "rule").size() == 6);
}

TEST_CASE("masquerade: remove deletes the table, and is fine when it is absent") {
    netns::Scratch ns;
    REQUIRE_FALSE(masquerade::remove());
    masquerade::ensure(node1());
    REQUIRE(masquerade::remove());
    REQUIRE(objects(list_ruleset(), "table").empty());
    REQUIRE_FALSE(masquerade::inspect().installed);
    REQUIRE(masquerade::describe() == "table ip shuttle: not installed");
    REQUIRE_FALSE(masquerade::remove());
}

TEST_CASE("masquerade IPv6: table ip6 shuttle beside ip shuttle, drift repaired, removed alone") {
    netns::Scratch ns;
    masquerade::Config v6{.cluster_network = prefix("fd00:10:244::/56"),
                          .node_subnet = prefix("fd00:10:244:1::/64")};
    masquerade::ensure(node1());
    masquerade::ensure(v6);
    masquerade::ensure(v6);
    REQUIRE(masquerade::is_installed(v6));  // nft lists exactly table_text(v6)
    REQUIRE(masquerade::is_installed(node1()));
    auto tables = objects(list_ruleset(), "table");
    REQUIRE(tables.size() == 2);
    REQUIRE(objects(list_ruleset(), "rule").size() == 12);
    auto status = masquerade::inspect(AF_INET6);
    REQUIRE(status.rules.size() == 6);
    REQUIRE(status.config->node_subnet.str() == "fd00:10:244:1::/64");
    REQUIRE(masquerade::describe(AF_INET6) ==
            "table ip6 shuttle: 6 rules (cluster fd00:10:244::/56, node subnet "
            "fd00:10:244:1::/64)");

    run_nft("add rule ip6 shuttle postrouting ip6 daddr 2001:db8::1 accept");
    REQUIRE_FALSE(masquerade::is_installed(v6));
    REQUIRE(masquerade::is_installed(node1()));
    masquerade::ensure(v6);
    REQUIRE(masquerade::is_installed(v6));

    REQUIRE(masquerade::remove(AF_INET6));
    REQUIRE_FALSE(masquerade::remove(AF_INET6));
    REQUIRE(masquerade::is_installed(node1()));  // the IPv4 table stays
    REQUIRE(masquerade::describe(AF_INET6) == "table ip6 shuttle: not installed");
}

TEST_CASE("masquerade: a table of another family or name is left alone") {
    netns::Scratch ns;
    run_nft("add table inet shuttle\nadd table ip other");
    masquerade::ensure(node1());
    REQUIRE(masquerade::remove());
    REQUIRE(objects(list_ruleset(), "table").size() == 2);
}

TEST_CASE(
    "masquerade: pod to outside leaves with the node's address, pod to cluster keeps its own") {
    Topology net;
    UniqueFd outside = listen_in(net.outside.get(), "192.168.100.2", 9000);
    UniqueFd remote = listen_in(net.remote.get(), "10.244.2.7", 9000);

    // Without the table the outside cannot answer 10.244.1.5: no connection.
    REQUIRE_FALSE(connect_from(net.pod.get(), "192.168.100.2", 9000, 1000));
    // The cluster path works unmasqueraded on its own.
    REQUIRE(connect_from(net.pod.get(), "10.244.2.7", 9000, 3000));
    REQUIRE(accept_peer(remote.get()) == "10.244.1.5");

    masquerade::ensure(node1());
    REQUIRE(connect_from(net.pod.get(), "192.168.100.2", 9000, 3000));
    REQUIRE(accept_peer(outside.get()) == "192.168.100.1");
    REQUIRE(connect_from(net.pod.get(), "10.244.2.7", 9000, 3000));
    REQUIRE(accept_peer(remote.get()) == "10.244.1.5");

    // The plugin-style config (node subnet only) masquerades pod → outside too.
    masquerade::ensure(masquerade::plugin_config(prefix("10.244.1.0/24")));
    REQUIRE(connect_from(net.pod.get(), "192.168.100.2", 9000, 3000));
    REQUIRE(accept_peer(outside.get()) == "192.168.100.1");

    REQUIRE(masquerade::remove());
    REQUIRE_FALSE(connect_from(net.pod.get(), "192.168.100.2", 9000, 1000));
}

TEST_CASE("masquerade: parallel ensures (CNI ADDs on one node) all succeed, one table remains") {
    UniqueFd node = netns::create_anonymous();
    std::mutex mutex;
    std::vector<std::string> errors;  // Catch2 assertions are not thread-safe: collect
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            netns::Guard in(node.get());
            for (int i = 0; i < 25; ++i) {
                try {
                    masquerade::ensure(node1());
                } catch (const std::exception& e) {
                    std::lock_guard lock(mutex);
                    errors.push_back(e.what());
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    CAPTURE(errors);
    REQUIRE(errors.empty());
    netns::Guard in(node.get());
    REQUIRE(masquerade::is_installed(node1()));
    REQUIRE(objects(list_ruleset(), "table").size() == 1);
}
