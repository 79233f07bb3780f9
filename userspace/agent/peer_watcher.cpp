#include "agent/peer_watcher.h"

#include "agent/lease_value.h"

namespace shuttle::agent {

PeerMap peers_from_snapshot(const etcd::PrefixSync::Snapshot& snapshot,
                            const std::string& subnets_prefix, const NetworkConfig& config,
                            const std::optional<IpPrefix>& own_subnet,
                            const IpAddress& own_public_ip) {
    PeerMap peers;
    for (const auto& [key, kv] : snapshot) {
        if (key.compare(0, subnets_prefix.size(), subnets_prefix) != 0) {
            continue;
        }
        auto subnet = parse_subnet_key_name(std::string_view(key).substr(subnets_prefix.size()));
        auto attrs = parse_lease_value(kv.value);
        if (!subnet || !attrs || attrs->backend_type != "vxlan" || !attrs->vtep_mac ||
            !config.network.contains(*subnet) || subnet == own_subnet ||
            attrs->public_ip == own_public_ip) {
            continue;
        }
        peers[*subnet] = Peer{*subnet, attrs->public_ip, *attrs->vtep_mac,
                              attrs->vni != 0 ? attrs->vni : config.vni};
    }
    return peers;
}

PeerWatcher::PeerWatcher(etcd::Client& client, std::string subnets_prefix, NetworkConfig config,
                         IpAddress own_public_ip, OnPeers on_peers,
                         std::chrono::milliseconds resync_interval)
    : subnets_prefix_(std::move(subnets_prefix)),
      config_(std::move(config)),
      own_public_ip_(own_public_ip),
      on_peers_(std::move(on_peers)),
      sync_(
          client,
          {subnets_prefix_, resync_interval, std::chrono::milliseconds(200),
           std::chrono::seconds(30)},
          [this](const etcd::PrefixSync::Snapshot& s) { on_snapshot(s); },
          [this](bool reachable, const std::string& detail) {
              etcd::PrefixSync::OnHealth callback;
              {
                  std::lock_guard lock(mutex_);
                  callback = on_health_;
              }
              if (callback) {
                  callback(reachable, detail);
              }
          }) {}

void PeerWatcher::set_own_subnet(std::optional<IpPrefix> subnet) {
    std::lock_guard lock(mutex_);
    own_subnet_ = subnet;
}

void PeerWatcher::set_on_own_lease_gone(std::function<void()> callback) {
    std::lock_guard lock(mutex_);
    on_own_lease_gone_ = std::move(callback);
}

void PeerWatcher::set_on_health(etcd::PrefixSync::OnHealth on_health) {
    std::lock_guard lock(mutex_);
    on_health_ = std::move(on_health);
}

PeerMap PeerWatcher::peers() const {
    std::lock_guard lock(mutex_);
    return peers_;
}

void PeerWatcher::on_snapshot(const etcd::PrefixSync::Snapshot& snapshot) {
    std::unique_lock lock(mutex_);
    auto peers =
        peers_from_snapshot(snapshot, subnets_prefix_, config_, own_subnet_, own_public_ip_);
    bool own_gone = false;
    if (own_subnet_) {
        auto own = snapshot.find(subnets_prefix_ + subnet_key_name(*own_subnet_));
        auto attrs = own == snapshot.end() ? std::nullopt : parse_lease_value(own->second.value);
        own_gone = !attrs || attrs->public_ip != own_public_ip_;
    }
    bool relisted = sync_.relists() != delivered_relists_;
    bool changed = !delivered_ || peers != peers_;
    peers_ = peers;
    delivered_ = true;
    delivered_relists_ = sync_.relists();
    auto gone_callback = own_gone ? on_own_lease_gone_ : nullptr;
    lock.unlock();
    if (changed || relisted) {
        on_peers_(peers);
    }
    if (gone_callback) {
        gone_callback();
    }
}

void PeerWatcher::run(const std::atomic<bool>& stop) {
    sync_.run(stop);
}

}  // namespace shuttle::agent
