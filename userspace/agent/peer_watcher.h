#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "agent/network_config.h"
#include "common/ip.h"
#include "etcd/prefix_sync.h"

namespace shuttle::agent {

// Another node's lease: where to send traffic for its pods. With EnableIPv6 also its IPv6
// subnet, PublicIPv6 and BackendV6Data VtepMAC (for the IPv6 overlay, issue 12 item 3).
struct Peer {
    IpPrefix subnet;  // 0.0.0.0/0 on an IPv6-only network
    IpAddress public_ip;
    MacAddress vtep_mac;  // zero on an IPv6-only network (no BackendData)
    int vni = 0;
    std::optional<IpPrefix> ipv6_subnet;
    std::optional<IpAddress> public_ipv6;
    std::optional<MacAddress> vtep_mac_v6;
    bool operator==(const Peer&) const = default;
};

// Keyed by the IPv4 subnet (by the IPv6 subnet on an IPv6-only network).
using PeerMap = std::map<IpPrefix, Peer>;

// Who this node is in etcd: its lease key's subnets and its public addresses.
struct OwnNode {
    std::optional<IpPrefix> subnet;
    std::optional<IpPrefix> ipv6_subnet;
    IpAddress public_ip;
    std::optional<IpAddress> public_ipv6;
};

// The other nodes' usable leases among the keys under subnets_prefix: vxlan, with a VtepMAC,
// inside Network (IPv6-only: an IPv6 subnet inside IPv6Network, a PublicIPv6 and a
// BackendV6Data VtepMAC); not ours (by subnet or by public address). The IPv6 half of a
// dual-stack peer is kept when it lies inside IPv6Network. Anything unparsable is skipped.
PeerMap peers_from_snapshot(const etcd::PrefixSync::Snapshot& snapshot,
                            const std::string& subnets_prefix, const NetworkConfig& config,
                            const OwnNode& own);

// Keeps the peer map in line with etcd (PrefixSync: list + watch by revision, re-list after
// compaction or reconnection, periodic resync) and hands the full desired set to on_peers
// whenever it changes and after every re-list. The last known set survives etcd outages.
class PeerWatcher {
  public:
    using OnPeers = std::function<void(const PeerMap&)>;

    PeerWatcher(etcd::Client& client, std::string subnets_prefix, NetworkConfig config,
                IpAddress own_public_ip, OnPeers on_peers,
                std::chrono::milliseconds resync_interval = std::chrono::minutes(5),
                std::optional<IpAddress> own_public_ipv6 = std::nullopt);

    // Our own lease: excluded from the peers. on_own_lease_gone runs (on the watcher's thread)
    // when that key disappears or stops naming us.
    void set_own_subnet(std::optional<IpPrefix> subnet,
                        std::optional<IpPrefix> ipv6_subnet = std::nullopt);
    void set_on_own_lease_gone(std::function<void()> callback);
    void set_on_health(etcd::PrefixSync::OnHealth on_health);

    void run(const std::atomic<bool>& stop);
    void request_resync() { sync_.request_resync(); }
    PeerMap peers() const;

  private:
    void on_snapshot(const etcd::PrefixSync::Snapshot& snapshot);

    std::string subnets_prefix_;
    NetworkConfig config_;
    OnPeers on_peers_;
    etcd::PrefixSync sync_;
    mutable std::mutex mutex_;
    OwnNode own_;
    std::function<void()> on_own_lease_gone_;
    etcd::PrefixSync::OnHealth on_health_;
    PeerMap peers_;
    bool delivered_ = false;
    int delivered_relists_ = -1;
};

}  // namespace shuttle::agent
