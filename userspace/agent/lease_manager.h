#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

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
};

struct Lease {
    IpPrefix subnet;           // 10.244.1.0/24
    std::string key;           // <prefix>/subnets/10.244.1.0-24
    int64_t etcd_lease = 0;    // 0 = a reservation (no TTL, never renewed)
    int64_t mod_revision = 0;  // of our last write
    MacAddress vtep_mac;
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
    // free ones. Create-if-absent / take-over in a txn, 10 tries on races.
    Lease acquire();

    // A fresh etcd lease and a take-over txn (MOD == our last write); revokes the old lease.
    // Throws LeaseLost when the key changed or vanished meanwhile.
    Lease renew(const Lease& lease);

    // Reads the key: true when it still holds our PublicIP under our etcd lease.
    bool still_held(Lease& lease);

    // Deletes the key and revokes the etcd lease (used for an explicit release, not on stop).
    void release(const Lease& lease);

    void set_previous_subnet(std::optional<IpPrefix> subnet) { options_.previous_subnet = subnet; }
    std::string subnets_prefix() const { return options_.prefix + "/subnets/"; }
    const NetworkConfig& config() const { return config_; }
    std::chrono::seconds effective_renew_margin() const;

  private:
    std::optional<Lease> try_take_own(const std::vector<etcd::KeyValue>& kvs);
    std::optional<Lease> try_create(const IpPrefix& subnet);
    Lease make_lease(const IpPrefix& subnet, int64_t etcd_lease, int64_t revision,
                     const MacAddress& mac);
    int64_t grant();
    void revoke_quietly(int64_t etcd_lease);

    etcd::Client& client_;
    NetworkConfig config_;
    LeaseOptions options_;
    std::optional<MacAddress> last_mac_;
};

}  // namespace shuttle::agent
