// The node-wide settings the programs read (map node_config): the plugin's pod network and
// the agent's overlay fields, each written under the node lock keeping the other's.
#include <arpa/inet.h>
#include <sys/socket.h>

#include "common/system_error.h"
#include "datapath/abi_values.h"
#include "datapath/bpffs.h"
#include "datapath/datapath.h"
#include "datapath/map_access.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {

NodeConfig Node::config() const {
    NodeConfig out;
    auto cfg = lookup<shuttle_config>(map_fd("node_config"), uint32_t{0});
    if (!cfg || cfg->layout_version == 0) {
        return out;  // never written
    }
    auto address = [](uint32_t net) { return net ? ip_of(net) : IpAddress{}; };
    auto prefix = [&](uint32_t net, uint32_t len) {
        return len ? IpPrefix{ip_of(net), static_cast<int>(len)} : IpPrefix{};
    };
    out.node_subnet = prefix(cfg->node_subnet, cfg->node_subnet_len);
    out.gateway = address(cfg->gateway);
    out.cluster_network = prefix(cfg->cluster_network, cfg->cluster_len);
    out.vxlan_ifindex = static_cast<int>(cfg->vxlan_ifindex);
    out.vni = cfg->vni;
    out.vtep_mac = mac_of(cfg->vtep_mac);
    out.underlay_ip = address(cfg->underlay_ip);
    out.underlay.ifindex = static_cast<int>(cfg->underlay_ifindex);
    out.underlay.vxlan_port =
        cfg->vxlan_port ? ntohs(cfg->vxlan_port) : uint16_t{SHUTTLE_VXLAN_DEFAULT_PORT};
    out.underlay.mode =
        (cfg->flags & SHUTTLE_CONFIG_F_DIRECT_OVERLAY) ? OverlayMode::direct : OverlayMode::device;
    return out;
}

void Node::set_config(const NodeConfig& config) {
    bool has_subnet = !config.node_subnet.address.empty();
    if (has_subnet && (config.node_subnet.length < 16 || config.node_subnet.length > 30)) {
        throw std::invalid_argument("node subnet " + config.node_subnet.str() +
                                    ": the datapath takes /16 to /30");
    }
    // Written over what is there: shuttlectl monitor --trace owns the flags and the trace
    // fields, and a newer build of this layout may use reserved space this build leaves alone
    // (the plugin and shuttled can come from different builds during a rollout).
    shuttle_config cfg =
        lookup<shuttle_config>(map_fd("node_config"), uint32_t{0}).value_or(shuttle_config{});
    cfg.layout_version = build_->layout;
    auto address = [](const IpAddress& a) { return a.empty() ? 0u : ipv4_of(a); };
    cfg.node_subnet = has_subnet ? ipv4_of(config.node_subnet.network().address) : 0;
    cfg.node_subnet_len = has_subnet ? static_cast<uint32_t>(config.node_subnet.length) : 0;
    cfg.gateway = address(config.gateway);
    bool has_cluster = !config.cluster_network.address.empty();
    cfg.cluster_network = has_cluster ? ipv4_of(config.cluster_network.network().address) : 0;
    cfg.cluster_len = has_cluster ? static_cast<uint32_t>(config.cluster_network.length) : 0;
    cfg.vxlan_ifindex = static_cast<uint32_t>(config.vxlan_ifindex);
    cfg.vni = config.vni;
    copy_mac(cfg.vtep_mac, config.vtep_mac);
    cfg.underlay_ip = address(config.underlay_ip);
    cfg.underlay_ifindex = static_cast<uint32_t>(config.underlay.ifindex);
    cfg.vxlan_port = htons(config.underlay.vxlan_port);
    if (config.underlay.mode == OverlayMode::direct) {
        cfg.flags |= SHUTTLE_CONFIG_F_DIRECT_OVERLAY;
    } else {
        cfg.flags &= ~SHUTTLE_CONFIG_F_DIRECT_OVERLAY;
    }
    update(map_fd("node_config"), uint32_t{0}, cfg);
    sync_route_slots();  // the slots depend on the cluster network and the subnet length
}

void Node::set_pod_network(const IpPrefix& node_subnet, const IpAddress& gateway,
                           const IpPrefix& cluster_network) {
    DirLock lock(options_.bpffs_root);
    NodeConfig cfg = config();
    if (cfg.node_subnet == node_subnet.network() && cfg.gateway == gateway &&
        cfg.cluster_network == cluster_network.network()) {
        return;
    }
    cfg.node_subnet = node_subnet.network();
    cfg.gateway = gateway;
    cfg.cluster_network = cluster_network.network();
    set_config(cfg);
}

NodeConfig6 Node::config6() const {
    NodeConfig6 out;
    auto cfg = lookup<shuttle_config6>(map_fd("node_config6"), uint32_t{0});
    if (!cfg || cfg->layout_version == 0) {
        return out;
    }
    auto prefix = [](const uint8_t* net, uint32_t len) {
        return len ? IpPrefix{ipv6_of(net), static_cast<int>(len)} : IpPrefix{};
    };
    out.node_subnet = prefix(cfg->node_subnet, cfg->node_subnet_len);
    out.gateway = ipv6_of(cfg->gateway);
    out.cluster_network = prefix(cfg->cluster_network, cfg->cluster_len);
    return out;
}

bool Node::set_pod_network6(const NodeConfig6& config) {
    if (config.node_subnet.address.family != AF_INET6 || config.gateway.family != AF_INET6 ||
        config.cluster_network.address.family != AF_INET6) {
        throw std::invalid_argument("set_pod_network6 takes an IPv6 subnet, gateway and network");
    }
    NodeConfig6 wanted{config.node_subnet.network(), config.gateway,
                       config.cluster_network.network()};
    DirLock lock(options_.bpffs_root);
    if (config6() == wanted) {
        return false;
    }
    shuttle_config6 cfg{};
    cfg.layout_version = SHUTTLE_LAYOUT_VERSION;
    copy_ipv6(cfg.node_subnet, wanted.node_subnet.address);
    cfg.node_subnet_len = static_cast<uint32_t>(wanted.node_subnet.length);
    copy_ipv6(cfg.gateway, wanted.gateway);
    copy_ipv6(cfg.cluster_network, wanted.cluster_network.address);
    cfg.cluster_len = static_cast<uint32_t>(wanted.cluster_network.length);
    update(map_fd("node_config6"), uint32_t{0}, cfg);
    return true;
}

void Node::set_overlay(int vxlan_ifindex, uint32_t vni, const MacAddress& vtep_mac,
                       const IpAddress& underlay_ip) {
    DirLock lock(options_.bpffs_root);
    NodeConfig cfg = config();
    cfg.vxlan_ifindex = vxlan_ifindex;
    cfg.vni = vni;
    cfg.vtep_mac = vtep_mac;
    cfg.underlay_ip = underlay_ip;
    set_config(cfg);
}

}  // namespace shuttle::datapath
