#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>

#include "agent/agent.h"
#include "agent/flags.h"
#include "agent/health_server.h"
#include "agent/log.h"
#include "agent/node_interface.h"
#include "agent/static_nodes.h"
#include "etcd/client.h"
#include "shuttle/version.h"

using namespace shuttle;

namespace {

struct UsageError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// The underlay: --iface, else the interface holding --public-ip, else the default route's.
agent::NodeInterface find_underlay(const std::map<std::string, std::string>& flags,
                                   std::optional<IpAddress>& public_ip) {
    const auto& ip_text = flags.at("public-ip");
    if (!ip_text.empty()) {
        public_ip = IpAddress::parse(ip_text);
        if (!public_ip || !public_ip->is_v4()) {
            throw UsageError("--public-ip: \"" + ip_text + "\" is not an IPv4 address");
        }
    }
    if (!flags.at("iface").empty()) {
        return agent::interface_by_name(flags.at("iface"));
    }
    if (public_ip) {
        if (auto iface = agent::interface_with_address(*public_ip)) {
            return *iface;
        }
    }
    return agent::default_route_interface();
}

void refuse_unimplemented(const std::map<std::string, std::string>& flags) {
    if (agent::parse_bool("ip-masq", flags.at("ip-masq"))) {
        throw UsageError(
            "--ip-masq: masquerading is not implemented yet in shuttled; leave it off (subnet.env "
            "then says FLANNEL_IPMASQ=false and the plugin's ipMasq may masquerade)");
    }
    if (flags.at("bpffs-root") != "/sys/fs/bpf/shuttle") {
        agent::log_info("--bpffs-root " + flags.at("bpffs-root") +
                        ": noted, but the datapath is not implemented yet in shuttled");
    }
}

agent::AgentOptions agent_options(const std::map<std::string, std::string>& flags) {
    agent::AgentOptions options;
    options.etcd.endpoints = etcd::split_endpoints(flags.at("etcd-endpoints"));
    if (options.etcd.endpoints.empty()) {
        throw UsageError("--etcd-endpoints: no endpoint given");
    }
    options.etcd.ca_file = flags.at("etcd-cafile");
    options.etcd.cert_file = flags.at("etcd-certfile");
    options.etcd.key_file = flags.at("etcd-keyfile");
    options.prefix = flags.at("etcd-prefix");
    while (options.prefix.size() > 1 && options.prefix.back() == '/') {
        options.prefix.pop_back();
    }
    options.subnet_file = flags.at("subnet-file");
    options.ip_masq = agent::parse_bool("ip-masq", flags.at("ip-masq"));
    options.lease_ttl = agent::parse_duration("subnet-lease-ttl", flags.at("subnet-lease-ttl"), 1);
    options.renew_margin = agent::parse_duration("subnet-lease-renew-margin",
                                                 flags.at("subnet-lease-renew-margin"), 60);
    if (options.lease_ttl < std::chrono::seconds(2)) {
        throw UsageError("--subnet-lease-ttl: etcd's shortest lease is 2s");
    }
    std::optional<IpAddress> public_ip;
    auto underlay = find_underlay(flags, public_ip);
    options.public_ip = public_ip.value_or(underlay.ipv4);
    options.underlay_mtu = underlay.mtu;
    agent::log_info("public IP " + options.public_ip.str() + ", underlay " + underlay.name +
                    " (MTU " + std::to_string(underlay.mtu) + ")");
    return options;
}

// SIGTERM / SIGINT set stop; the signals are blocked in every thread and taken here.
std::thread signal_waiter(std::atomic<bool>& stop, agent::NodeAgent& agent) {
    return std::thread([&stop, &agent] {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        timespec tick{0, 200'000'000};
        while (!stop) {
            int signal = sigtimedwait(&set, nullptr, &tick);
            if (signal > 0) {
                agent::log_info(std::string("got ") + strsignal(signal) + ", stopping");
                stop = true;
                agent.wake();
            }
        }
    });
}

int run(const std::map<std::string, std::string>& flags) {
    refuse_unimplemented(flags);
    auto options = agent_options(flags);
    const auto& static_nodes = flags.at("static-nodes");
    agent::log_info("shuttled " + std::string(kVersion) + ": " +
                    (static_nodes.empty()
                         ? "etcd " + flags.at("etcd-endpoints") + ", prefix " + options.prefix
                         : "static nodes from " + static_nodes) +
                    "; datapath (VXLAN device, BPF programs, routes map) not implemented yet, "
                    "peers are only logged");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    auto log_peers = [](const agent::PeerMap& peers) {
        std::string text = std::to_string(peers.size()) + " peer(s):";
        for (const auto& [subnet, peer] : peers) {
            text += " " + subnet.str() + "->" + peer.public_ip.str();
        }
        agent::log_info(text);
    };
    std::unique_ptr<agent::NodeAgent> node;
    if (static_nodes.empty()) {
        node = std::make_unique<agent::Agent>(options, log_peers);
    } else {
        node = std::make_unique<agent::StaticAgent>(options, static_nodes, log_peers);
    }
    agent::HealthServer health(flags.at("healthz-addr"), [&node] { return node->readiness(); });
    const auto& address = flags.at("healthz-addr");
    agent::log_info("/healthz and /readyz on " + address.substr(0, address.rfind(':')) + ":" +
                    std::to_string(health.port()));
    std::atomic<bool> stop{false};
    auto waiter = signal_waiter(stop, *node);
    node->run(stop);
    stop = true;
    waiter.join();
    agent::log_info(static_nodes.empty() ? "stopped; the lease stays until its TTL ends"
                                         : "stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--version")) {
            std::printf("shuttled %s\n", kVersion);
            return 0;
        }
        if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
            std::fputs(agent::usage().c_str(), stdout);
            return 0;
        }
    }
    try {
        return run(agent::parse_flags(argc, argv));
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "shuttled: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        agent::log_error(e.what());
        return 1;
    }
}
