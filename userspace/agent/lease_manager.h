#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "agent/lease_value.h"
#include "agent/network_config.h"
#include "common/ip.h"
#include "etcd/client.h"

namespace shuttle::agent {

struct LeaseOptions {
    std::string prefix = "/coreos.com/network";
    IpAddress public_ip;
    // nullopt: the VtepMAC this manager used before, else that of this node's existing lease,
    // else a random one.
    std::optional<MacAddress> vtep_mac;
    std::chrono::seconds ttl{std::chrono::hours(24)};
    std::chrono::seconds renew_margin{std::chrono::hours(1)};
    // The subnet of subnet.env from an earlier run: preferred when free.
    std::optional<IpPrefix> previous_subnet;
    // Dual-stack and IPv6-only networks (EnableIPv6): the node's PublicIPv6 and the
    // BackendV6Data VtepMAC (nullopt: as vtep_mac), and subnet.env's earlier IPv6 subnet.
    std::optional<IpAddress> public_ipv6;
    std::optional<MacAddress> vtep_mac_v6;
    std::optional<IpPrefix> previous_ipv6_subnet;
};

struct Lease {
    IpPrefix subnet;                      // 10.244.1.0/24 (0.0.0.0/0 on an IPv6-only network)
    std::optional<IpPrefix> ipv6_subnet;  // fd00:10:244:1::/64 with EnableIPv6
    std::string key;                      // <prefix>/subnets/10.244.1.0-24[&fd00:10:244:1::-64]
    int64_t etcd_lease = 0;               // 0 = a reservation (no TTL, never renewed)
    int64_t mod_revision = 0;             // of our last write
    MacAddress vtep_mac;
    std::optional<MacAddress> vtep_mac_v6;           // with EnableIPv6
    std::chrono::steady_clock::time_point renew_at;  // max() for a reservation
};

// The key is gone, belongs to another node now, or could not be taken.
class LeaseLost : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// flannel's lease rules (pkg/subnet/etcd/local_manager.go) over etcd v3: one key per node
// under <prefix>/subnets/, bound to an etcd lease of `ttl`, renewed `renew_margin` before it
// expires. Throws etcd::Error when etcd cannot be reached: callers retry.
class LeaseManager {
  public:
    LeaseManager(etcd::Client& client, NetworkConfig config, LeaseOptions options);

    // flannel's order: (1) an existing lease with our PublicIP (renewed; an incompatible one
    // is deleted), (2) the previous subnet if free, (3) a random one among the first <=100
    // free ones. Create-if-absent / take-over in a txn, 10 tries on races. With EnableIPv6 the
    // same for the IPv6 subnet in the same key. On an IPv6-only network "our" lease is the one
    // with our PublicIPv6 (flannel compares the IPv4 PublicIP, 0.0.0.0 on every such node).
    Lease acquire();

    // A fresh etcd lease and a take-over txn (MOD == our last write); revokes the old lease.
    // Throws LeaseLost when the key changed or vanished meanwhile.
    Lease renew(const Lease& lease);

    // Reads the key: true when it still holds our PublicIP under our etcd lease.
    bool still_held(Lease& lease);

    // Deletes the key and revokes the etcd lease (used for an explicit release, not on stop).
    void release(const Lease& lease);

    void set_previous_subnet(std::optional<IpPrefix> subnet,
                             std::optional<IpPrefix> ipv6_subnet = std::nullopt) {
        options_.previous_subnet = subnet;
        options_.previous_ipv6_subnet = ipv6_subnet;
    }
    std::string subnets_prefix() const { return options_.prefix + "/subnets/"; }
    const NetworkConfig& config() const { return config_; }
    std::chrono::seconds effective_renew_margin() const;

  private:
    std::optional<Lease> try_take_own(const std::vector<etcd::KeyValue>& kvs);
    std::optional<Lease> try_create(const SubnetKey& subnets);
    std::optional<std::string> created_earlier_with_a_subnet_of(const SubnetKey& subnets,
                                                                const std::string& own_key,
                                                                int64_t own_revision);
    Lease make_lease(const SubnetKey& subnets, int64_t etcd_lease, int64_t revision,
                     const MacAddress& mac);
    bool is_ours(const LeaseAttrs& attrs) const;
    bool fits(const SubnetKey& subnets) const;
    std::string value_of(const MacAddress& mac) const;
    std::optional<SubnetKey> previous_if_free(const std::set<IpPrefix>& taken,
                                              const std::set<IpPrefix>& taken_v6) const;
    int64_t grant();
    void revoke_quietly(int64_t etcd_lease);

    etcd::Client& client_;
    NetworkConfig config_;
    LeaseOptions options_;
    std::optional<MacAddress> last_mac_;
};

}  // namespace shuttle::agent
