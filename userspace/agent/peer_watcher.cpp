#include "agent/peer_watcher.h"

#include "agent/lease_value.h"

namespace shuttle::agent {

namespace {

// flannel's peers are found by the IPv4 PublicIP; on an IPv6-only network every node writes
// 0.0.0.0 there, so the PublicIPv6 tells them apart.
bool names_us(const NetworkConfig& config, const LeaseAttrs& attrs, const OwnNode& own) {
    if (config.enable_ipv4)
        return attrs.public_ip == own.public_ip;
    return own.public_ipv6 && attrs.public_ipv6 == own.public_ipv6;
}

std::optional<Peer> peer_of(const NetworkConfig& config, const SubnetKey& subnets,
                            const LeaseAttrs& attrs) {
    Peer peer;
    peer.subnet = subnets.ipv4;
    peer.public_ip = attrs.public_ip;
    peer.vtep_mac = attrs.vtep_mac.value_or(MacAddress{});
    peer.vni = attrs.vni != 0 ? attrs.vni : config.vni;
    bool v6_usable = config.enable_ipv6 && subnets.ipv6 && attrs.public_ipv6 && attrs.vtep_mac_v6 &&
                     config.ipv6_network.contains(*subnets.ipv6);
    if (v6_usable) {
        peer.ipv6_subnet = subnets.ipv6;
        peer.public_ipv6 = attrs.public_ipv6;
        peer.vtep_mac_v6 = attrs.vtep_mac_v6;
    }
    if (config.enable_ipv4) {
        if (!attrs.vtep_mac || !config.network.contains(subnets.ipv4))
            return std::nullopt;
    } else if (!v6_usable) {
        return std::nullopt;
    }
    return peer;
}

}  // namespace

PeerMap peers_from_snapshot(const etcd::PrefixSync::Snapshot& snapshot,
                            const std::string& subnets_prefix, const NetworkConfig& config,
                            const OwnNode& own) {
    PeerMap peers;
    for (const auto& [key, kv] : snapshot) {
        if (key.compare(0, subnets_prefix.size(), subnets_prefix) != 0) {
            continue;
        }
        auto subnets = parse_subnet_key(std::string_view(key).substr(subnets_prefix.size()));
        auto attrs = parse_lease_value(kv.value);
        if (!subnets || !attrs || attrs->backend_type != "vxlan" || names_us(config, *attrs, own)) {
            continue;
        }
        bool own_subnet =
            config.enable_ipv4 ? subnets->ipv4 == own.subnet : subnets->ipv6 == own.ipv6_subnet;
        if (own_subnet)
            continue;
        if (auto peer = peer_of(config, *subnets, *attrs))
            peers[config.enable_ipv4 ? peer->subnet : *peer->ipv6_subnet] = *peer;
    }
    return peers;
}

PeerWatcher::PeerWatcher(etcd::Client& client, std::string subnets_prefix, NetworkConfig config,
                         IpAddress own_public_ip, OnPeers on_peers,
                         std::chrono::milliseconds resync_interval,
                         std::optional<IpAddress> own_public_ipv6)
    : subnets_prefix_(std::move(subnets_prefix)),
      config_(std::move(config)),
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
          }) {
    own_.public_ip = config_.enable_ipv4 ? own_public_ip : IpAddress::v4(0);
    own_.public_ipv6 = own_public_ipv6;
}

void PeerWatcher::set_own_subnet(std::optional<IpPrefix> subnet,
                                 std::optional<IpPrefix> ipv6_subnet) {
    std::lock_guard lock(mutex_);
    own_.subnet = subnet;
    own_.ipv6_subnet = ipv6_subnet;
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
    auto peers = peers_from_snapshot(snapshot, subnets_prefix_, config_, own_);
    bool own_gone = false;
    if (own_.subnet) {
        auto own = snapshot.find(subnets_prefix_ + subnet_key_name(*own_.subnet, own_.ipv6_subnet));
        auto attrs = own == snapshot.end() ? std::nullopt : parse_lease_value(own->second.value);
        own_gone = !attrs || !names_us(config_, *attrs, own_);
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
