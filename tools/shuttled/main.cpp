#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>

#include "agent/agent.h"
#include "agent/flags.h"
#include "agent/ipv6_masquerade.h"
#include "agent/health_server.h"
#include "agent/instance_lock.h"
#include "agent/log.h"
#include "agent/node_datapath.h"
#include "agent/node_interface.h"
#include "agent/static_nodes.h"
#include "agent/uninstall.h"
#include "etcd/client.h"
#include "overlay/vxlan_device.h"
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

// --public-ipv6, else the underlay's first global IPv6 address (used with EnableIPv6).
std::optional<IpAddress> public_ipv6(const std::map<std::string, std::string>& flags,
                                     const agent::NodeInterface& underlay) {
    const auto& text = flags.at("public-ipv6");
    if (text.empty()) {
        return underlay.ipv6;
    }
    auto ip = IpAddress::parse(text);
    if (!ip || ip->is_v4()) {
        throw UsageError("--public-ipv6: \"" + text + "\" is not an IPv6 address");
    }
    return ip;
}

agent::AgentOptions agent_options(const std::map<std::string, std::string>& flags,
                                  agent::NodeInterface& underlay) {
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
    underlay = find_underlay(flags, public_ip);
    options.public_ip = public_ip.value_or(underlay.ipv4);
    options.underlay_mtu = underlay.mtu;
    // The lease's VtepMAC is the device's MAC (the datapath sets the device to it); derived
    // from the public IP so that it survives restarts, reboots and lost leases.
    options.vtep_mac = overlay::derive_vtep_mac(options.public_ip, overlay::kDefaultVni);
    options.public_ipv6 = public_ipv6(flags, underlay);
    if (options.public_ipv6) {
        // BackendV6Data's VtepMAC: the MAC of the device carrying IPv6. That is shuttle.<VNI>
        // itself (overlay/vxlan_ipv6.h: its collect_md port is both families'), so peers'
        // IPv6 frames reach it addressed to its own MAC; derived from PublicIPv6 only on a
        // node without an IPv4 address.
        options.vtep_mac_v6 =
            options.public_ip == IpAddress::any(AF_INET)
                ? overlay::derive_vtep_mac(*options.public_ipv6, overlay::kDefaultVni)
                : options.vtep_mac;
    }
    agent::log_info("public IP " + options.public_ip.str() +
                    (options.public_ipv6 ? ", public IPv6 " + options.public_ipv6->str() : "") +
                    ", underlay " + underlay.name + " (MTU " + std::to_string(underlay.mtu) + ")");
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

agent::NodeDatapathOptions datapath_options(const std::map<std::string, std::string>& flags,
                                            const agent::AgentOptions& options,
                                            const agent::NodeInterface& underlay) {
    agent::NodeDatapathOptions result;
    result.bpffs_root = flags.at("bpffs-root");
    result.underlay_ifname = underlay.name;
    result.public_ip = options.public_ip;
    result.public_ipv6 = options.public_ipv6;
    result.underlay_mtu = options.underlay_mtu;
    result.overlay = agent::parse_overlay_mode(flags.at("overlay"));
    result.ip_masq = options.ip_masq;
    result.subnet_file = options.subnet_file;
    result.cni_conf_dir = flags.at("cni-conf-dir");
    result.adopt_flannel_pods =
        agent::parse_bool("adopt-flannel-pods", flags.at("adopt-flannel-pods"));
    return result;
}

// Puts back what went missing behind shuttled's back (device deleted, table flushed).
std::thread maintainer(std::atomic<bool>& stop, agent::NodeDatapath& datapath,
                       agent::Ipv6Masquerade& masquerade6) {
    return std::thread([&stop, &datapath, &masquerade6] {
        auto next = std::chrono::steady_clock::now();
        while (!stop) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            if (std::chrono::steady_clock::now() >= next) {
                datapath.maintain();
                masquerade6.maintain();
                next = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            }
        }
    });
}

int cleanup(const std::map<std::string, std::string>& flags) {
    auto done = agent::uninstall_node(flags.at("bpffs-root"));
    for (const auto& line : done) {
        agent::log_info("cleanup: " + line);
    }
    agent::log_info("cleanup done; the lease, " + flags.at("subnet-file") +
                    " and the IP store are kept");
    return 0;
}

int run(const std::map<std::string, std::string>& flags) {
    if (agent::parse_bool("cleanup", flags.at("cleanup"))) {
        return cleanup(flags);
    }
    agent::InstanceLock lock(flags.at("subnet-file"));  // before anything is touched
    agent::NodeInterface underlay;
    auto options = agent_options(flags, underlay);
    const auto& static_nodes = flags.at("static-nodes");
    agent::log_info("shuttled " + std::string(kVersion) + ": " +
                    (static_nodes.empty()
                         ? "etcd " + flags.at("etcd-endpoints") + ", prefix " + options.prefix
                         : "static nodes from " + static_nodes));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    std::unique_ptr<agent::NodeDatapath> datapath;
    agent::Ipv6Masquerade masquerade6(options.ip_masq);
    if (agent::parse_bool("datapath", flags.at("datapath"))) {
        datapath =
            std::make_unique<agent::NodeDatapath>(datapath_options(flags, options, underlay));
        options.on_lease = [&datapath, &masquerade6](const agent::Lease& lease,
                                                     const agent::NetworkConfig& config) {
            // An IPv6-only network: shuttle.<VNI> carries IPv6 alone, with the IPv6 VtepMAC.
            datapath->apply_lease(
                lease.subnet,
                config.enable_ipv4 ? lease.vtep_mac : lease.vtep_mac_v6.value_or(lease.vtep_mac),
                config, lease.ipv6_subnet);
            masquerade6.apply(lease.ipv6_subnet, config);
        };
        options.extra_readiness = [&datapath, &masquerade6] {
            auto [ok, text] = datapath->readiness();
            auto [ok6, text6] = masquerade6.readiness();
            return std::pair{ok && ok6, text6.empty() ? text : text + "\n" + text6};
        };
    } else {
        agent::log_info("--datapath=false: lease, subnet.env and peers only");
        if (options.ip_masq) {
            agent::log_error(
                "--ip-masq with --datapath=false: subnet.env says FLANNEL_IPMASQ=true "
                "but nothing installs the masquerade rules");
        }
    }
    auto on_peers = [&datapath](const agent::PeerMap& peers) {
        std::string text = std::to_string(peers.size()) + " peer(s):";
        for (const auto& [subnet, peer] : peers) {
            text += " " + subnet.str() + "->" + peer.public_ip.str();
            if (peer.ipv6_subnet && peer.public_ipv6) {
                text += " (" + peer.ipv6_subnet->str() + "->" + peer.public_ipv6->str() + ")";
            }
        }
        agent::log_info(text);
        if (datapath) {
            datapath->set_peers(peers);  // IPv4 routes map + the device's IPv6 routes
        }
    };
    std::unique_ptr<agent::NodeAgent> node;
    if (static_nodes.empty()) {
        node = std::make_unique<agent::Agent>(options, on_peers);
    } else {
        node = std::make_unique<agent::StaticAgent>(options, static_nodes, on_peers);
    }
    agent::HealthServer health(flags.at("healthz-addr"), [&node] { return node->readiness(); });
    const auto& address = flags.at("healthz-addr");
    agent::log_info("/healthz and /readyz on " + address.substr(0, address.rfind(':')) + ":" +
                    std::to_string(health.port()));
    std::atomic<bool> stop{false};
    auto waiter = signal_waiter(stop, *node);
    std::thread repairs;
    if (datapath) {
        repairs = maintainer(stop, *datapath, masquerade6);
    }
    node->run(stop);
    stop = true;
    waiter.join();
    if (repairs.joinable()) {
        repairs.join();
    }
    agent::log_info(std::string(static_nodes.empty() ? "stopped; the lease stays until its TTL ends"
                                                     : "stopped") +
                    "; the datapath keeps forwarding");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // Whatever umask it was started with: no directory or file of ours writable by others.
    ::umask(022);
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
