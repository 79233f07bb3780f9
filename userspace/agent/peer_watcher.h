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

// Another node's lease: where to send traffic for its pods.
struct Peer {
    IpPrefix subnet;
    IpAddress public_ip;
    MacAddress vtep_mac;
    int vni = 0;
    bool operator==(const Peer&) const = default;
};

using PeerMap = std::map<IpPrefix, Peer>;

// The other nodes' usable leases among the keys under subnets_prefix: vxlan, with a VtepMAC,
// inside Network; not ours (by subnet or by PublicIP). Anything unparsable is skipped.
PeerMap peers_from_snapshot(const etcd::PrefixSync::Snapshot& snapshot,
                            const std::string& subnets_prefix, const NetworkConfig& config,
                            const std::optional<IpPrefix>& own_subnet,
                            const IpAddress& own_public_ip);

// Keeps the peer map in line with etcd (PrefixSync: list + watch by revision, re-list after
// compaction or reconnection, periodic resync) and hands the full desired set to on_peers
// whenever it changes and after every re-list. The last known set survives etcd outages.
class PeerWatcher {
  public:
    using OnPeers = std::function<void(const PeerMap&)>;

    PeerWatcher(etcd::Client& client, std::string subnets_prefix, NetworkConfig config,
                IpAddress own_public_ip, OnPeers on_peers,
                std::chrono::milliseconds resync_interval = std::chrono::minutes(5));

    // Our own lease: excluded from the peers. on_own_lease_gone runs (on the watcher's thread)
    // when that key disappears or stops naming us.
    void set_own_subnet(std::optional<IpPrefix> subnet);
    void set_on_own_lease_gone(std::function<void()> callback);
    void set_on_health(etcd::PrefixSync::OnHealth on_health);

    void run(const std::atomic<bool>& stop);
    void request_resync() { sync_.request_resync(); }
    PeerMap peers() const;

  private:
    void on_snapshot(const etcd::PrefixSync::Snapshot& snapshot);

    std::string subnets_prefix_;
    NetworkConfig config_;
    IpAddress own_public_ip_;
    OnPeers on_peers_;
    etcd::PrefixSync sync_;
    mutable std::mutex mutex_;
    std::optional<IpPrefix> own_subnet_;
    std::function<void()> on_own_lease_gone_;
    etcd::PrefixSync::OnHealth on_health_;
    PeerMap peers_;
    bool delivered_ = false;
    int delivered_relists_ = -1;
};

}  // namespace shuttle::agent
