#pragma once

// shuttled's datapath side: what a lease and the peer set turn into on the node.
//
//   start:     datapath::Node::ensure (load / pin the programs once per node)
//   on_lease:  VXLAN device shuttle.<VNI> (MAC = the lease's VtepMAC), node_config
//              (set_pod_network + set_overlay), from/to-overlay programs on the device,
//              the overlay mode (direct: from_underlay on the underlay interface's ingress
//              and the direct flag in node_config; device: neither), masquerade (--ip-masq),
//              then the CNI conflist
//   on_peers:  the routes map = exactly the other nodes' leases; with IPv6, the device's
//              per-peer IPv6 routes and neighbours, then the map routes6 (from_pod's IPv6
//              device path) = the same peers
//   maintain:  every few seconds, put back what went missing (device deleted, table flushed,
//              a peer's IPv6 route or neighbour deleted, routes6 not matching the peers)
//
// Nothing is torn down on exit: pinned maps and attached programs keep forwarding while
// shuttled is stopped, restarting or crashed.

#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "agent/network_config.h"
#include "agent/peer_watcher.h"
#include "common/ip.h"
#include "datapath/datapath.h"
#include "netlink/link.h"
#include "netlink/socket.h"

namespace shuttle::agent {

struct NodeDatapathOptions {
    std::string bpffs_root = "/sys/fs/bpf/shuttle";
    std::string underlay_ifname;  // the interface holding public_ip
    IpAddress public_ip;
    // PublicIPv6: the outer source of IPv6 pod traffic to other nodes (dual-stack networks).
    std::optional<IpAddress> public_ipv6;
    int underlay_mtu = 1500;
    // direct: the programs encapsulate and decapsulate themselves where the underlay allows
    // it (Ethernet, from_underlay attached), else the device path with the reason said.
    datapath::OverlayMode overlay = datapath::OverlayMode::direct;
    bool ip_masq = false;
    std::string subnet_file = "/run/flannel/subnet.env";  // named in the conflist
    std::string cni_conf_dir = "/etc/cni/net.d";          // "" = write no conflist
    std::string cni_conf_name = "10-shuttle.conflist";
    // Migration: move pods flannel's bridge plugin wired to cni0 onto the datapath.
    bool adopt_flannel_pods = true;
    // The CNI plugin's attachment records (<root>/<network>/*.json): when shuttled's ensure()
    // created the maps (reboot, lost pins), it re-attaches those pods, since the plugin's
    // next ADD then finds the maps present and would not.
    std::string plugin_state_root = "/var/lib/cni/shuttle";
};

// "direct" | "device" (--overlay); throws std::invalid_argument naming the flag otherwise.
datapath::OverlayMode parse_overlay_mode(const std::string& text);
std::string to_string(datapath::OverlayMode mode);

// The conflist shuttled writes once the node is ready (as kube-flannel's install container
// writes 10-flannel.conflist): tools/install/10-shuttle.conflist — network "cbr0", the shuttle
// plugin reading subnet.env, portmap, bandwidth.
std::string cni_conflist_text(const std::string& subnet_file, const std::string& bpffs_root);

// Writes `text` to `path` atomically unless the file already holds exactly that; true when
// it wrote.
bool write_file_if_different(const std::string& path, const std::string& text);

class NodeDatapath {
  public:
    // Runs datapath::Node::ensure (throws when the programs cannot be loaded).
    explicit NodeDatapath(NodeDatapathOptions options);

    // on_lease: device, node config, overlay programs, masquerade, conflist. Throws on failure
    // (the agent retries with backoff and keeps /readyz at 503).
    // ipv6_subnet (EnableIPv6): the device carries IPv6 too (overlay/vxlan_ipv6.h).
    void apply_lease(const IpPrefix& subnet, const MacAddress& vtep_mac,
                     const NetworkConfig& config,
                     const std::optional<IpPrefix>& ipv6_subnet = std::nullopt);
    // on_peers: the routes map holds exactly the IPv4-keyed peers; with IPv6 applied, the
    // device's IPv6 routes and neighbours, and the map routes6, exactly the peers' IPv6 halves.
    void set_peers(const PeerMap& peers);
    // Periodic: re-applies the lease when the device or the masquerade table drifted, writes
    // routes that failed before, and puts back peers' IPv6 routes and neighbours that went.
    void maintain();
    // For /readyz (extra_readiness): device and programs in place.
    std::pair<bool, std::string> readiness() const;

  private:
    struct Applied {
        IpPrefix subnet;
        MacAddress vtep_mac;
        NetworkConfig config;
        int ifindex = 0;
        std::string ifname;
        std::optional<IpPrefix> ipv6_subnet;
    };
    void apply_locked(const IpPrefix& subnet, const MacAddress& vtep_mac,
                      const NetworkConfig& config, const std::optional<IpPrefix>& ipv6_subnet);
    void write_ipv6_routes_locked();
    void repair_ipv6_peers_locked();
    void apply_ipv6_only_locked(const MacAddress& vtep_mac, const NetworkConfig& config,
                                const IpPrefix& ipv6_subnet);
    void write_conflist_locked();
    std::string drift_locked();
    std::string reload_if_pins_lost_locked();
    void reattach_recorded_pods();
    void write_routes_locked();
    // The overlay mode in force: direct where options_.overlay asks for it and the underlay
    // allows it, else device (overlay_fallback_ says why).
    void apply_overlay_mode_locked(uint16_t vxlan_port);
    std::string direct_mode_blocker(const netlink::Link& underlay);
    std::string overlay_text_locked() const;
    // The routes map's entries for the current peers (those with an IPv4 subnet).
    size_t route_count_locked() const;

    NodeDatapathOptions options_;
    mutable std::mutex mutex_;
    datapath::Node node_;
    netlink::Socket netlink_;
    std::optional<Applied> applied_;
    std::optional<Applied> wanted_;  // the last lease asked for (applied or not)
    std::optional<PeerMap> peers_;
    bool routes_pending_ = false;
    bool pods_reattached_ = false;
    std::string routes_error_;
    size_t ipv6_routes_ = 0;
    datapath::OverlayMode overlay_mode_ = datapath::OverlayMode::device;
    int underlay_ifindex_ = 0;
    std::string overlay_fallback_;  // why direct was asked for but device is in force
    std::string problem_ = "no lease applied yet";
};

}  // namespace shuttle::agent
