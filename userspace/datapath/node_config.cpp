// The node-wide settings the programs read (map node_config): the plugin's pod network and
// the agent's overlay fields, each written under the node lock keeping the other's.
#include <arpa/inet.h>

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
    shuttle_config cfg{};
    cfg.layout_version = SHUTTLE_LAYOUT_VERSION;
    // shuttlectl monitor --trace owns these; a config change must not end its trace.
    if (auto current = lookup<shuttle_config>(map_fd("node_config"), uint32_t{0})) {
        cfg.flags = current->flags & SHUTTLE_CONFIG_F_TRACE;
        cfg.trace_sample = current->trace_sample;
        cfg.trace_until = current->trace_until;
    }
    if (has_subnet) {
        cfg.node_subnet = ipv4_of(config.node_subnet.network().address);
        cfg.node_subnet_len = static_cast<uint32_t>(config.node_subnet.length);
    }
    if (!config.gateway.empty()) {
        cfg.gateway = ipv4_of(config.gateway);
    }
    if (!config.cluster_network.address.empty()) {
        cfg.cluster_network = ipv4_of(config.cluster_network.network().address);
        cfg.cluster_len = static_cast<uint32_t>(config.cluster_network.length);
    }
    cfg.vxlan_ifindex = static_cast<uint32_t>(config.vxlan_ifindex);
    cfg.vni = config.vni;
    copy_mac(cfg.vtep_mac, config.vtep_mac);
    if (!config.underlay_ip.empty()) {
        cfg.underlay_ip = ipv4_of(config.underlay_ip);
    }
    cfg.underlay_ifindex = static_cast<uint32_t>(config.underlay.ifindex);
    cfg.vxlan_port = htons(config.underlay.vxlan_port);
    if (config.underlay.mode == OverlayMode::direct) {
        cfg.flags |= SHUTTLE_CONFIG_F_DIRECT_OVERLAY;
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
