#include "agent/lease_manager.h"

#include <random>
#include <set>

#include "agent/lease_value.h"
#include "agent/log.h"

namespace shuttle::agent {
namespace {

constexpr int kRaceRetries = 10;

// The subnet part of "<prefix>/subnets/10.244.1.0-24".
std::optional<IpPrefix> subnet_of_key(const std::string& key, const std::string& prefix) {
    if (key.compare(0, prefix.size(), prefix) != 0) {
        return std::nullopt;
    }
    return parse_subnet_key_name(std::string_view(key).substr(prefix.size()));
}

}  // namespace

void LeaseManager::revoke_quietly(int64_t etcd_lease) {
    if (etcd_lease == 0) {
        return;
    }
    try {
        client_.lease_revoke(etcd_lease);
    } catch (const etcd::Error& e) {
        // It expires on its own; nothing refers to it any more.
        log_error("revoking etcd lease " + std::to_string(etcd_lease) + ": " + e.what());
    }
}

LeaseManager::LeaseManager(etcd::Client& client, NetworkConfig config, LeaseOptions options)
    : client_(client), config_(std::move(config)), options_(std::move(options)) {}

std::chrono::seconds LeaseManager::effective_renew_margin() const {
    // A margin as long as the TTL would renew without pause: keep half the TTL at least.
    return std::min(options_.renew_margin, options_.ttl / 2);
}

int64_t LeaseManager::grant() {
    return client_.lease_grant(options_.ttl).id;
}

Lease LeaseManager::make_lease(const IpPrefix& subnet, int64_t etcd_lease, int64_t revision,
                               const MacAddress& mac) {
    last_mac_ = mac;  // a re-acquired lease keeps it: the VXLAN device has it
    Lease lease;
    lease.subnet = subnet;
    lease.key = subnets_prefix() + subnet_key_name(subnet);
    lease.etcd_lease = etcd_lease;
    lease.mod_revision = revision;
    lease.vtep_mac = mac;
    lease.renew_at = etcd_lease == 0 ? std::chrono::steady_clock::time_point::max()
                                     : std::chrono::steady_clock::now() + options_.ttl -
                                           effective_renew_margin();
    return lease;
}

std::optional<Lease> LeaseManager::try_take_own(const std::vector<etcd::KeyValue>& kvs) {
    for (const auto& kv : kvs) {
        auto subnet = subnet_of_key(kv.key, subnets_prefix());
        auto attrs = parse_lease_value(kv.value);
        if (!subnet || !attrs || attrs->public_ip != options_.public_ip) {
            continue;
        }
        if (!subnet_fits(config_, *subnet)) {
            log_info("lease " + subnet->str() + " of this node does not fit the config; deleting");
            client_.remove(kv.key);
            continue;
        }
        auto mac = options_.vtep_mac ? *options_.vtep_mac
                   : last_mac_       ? *last_mac_
                                     : attrs->vtep_mac.value_or(random_vtep_mac());
        // A reservation (no etcd lease) stays one; anything else gets a fresh TTL.
        int64_t etcd_lease = kv.lease == 0 ? 0 : grant();
        auto value = format_lease_value(options_.public_ip, config_.vni, mac);
        auto txn = client_.replace_if_unchanged(kv.key, value, etcd_lease, kv.mod_revision);
        if (txn.succeeded) {
            revoke_quietly(kv.lease);  // the key is bound to the new lease now
            return make_lease(*subnet, etcd_lease, txn.revision, mac);
        }
        revoke_quietly(etcd_lease);
        return std::nullopt;  // changed meanwhile: list again
    }
    return std::nullopt;
}

std::optional<Lease> LeaseManager::try_create(const IpPrefix& subnet) {
    auto mac = options_.vtep_mac.value_or(last_mac_.value_or(random_vtep_mac()));
    auto key = subnets_prefix() + subnet_key_name(subnet);
    auto etcd_lease = grant();
    auto txn = client_.create_if_absent(
        key, format_lease_value(options_.public_ip, config_.vni, mac), etcd_lease);
    if (txn.succeeded) {
        return make_lease(subnet, etcd_lease, txn.revision, mac);
    }
    revoke_quietly(etcd_lease);
    return std::nullopt;
}

Lease LeaseManager::acquire() {
    std::mt19937 random{std::random_device{}()};
    for (int attempt = 0; attempt < kRaceRetries; ++attempt) {
        auto listed = client_.list_prefix(subnets_prefix());
        std::set<IpPrefix> taken;
        bool ours_listed = false;
        for (const auto& kv : listed.kvs) {
            auto subnet = subnet_of_key(kv.key, subnets_prefix());
            if (!subnet) {
                continue;
            }
            taken.insert(*subnet);
            auto attrs = parse_lease_value(kv.value);
            ours_listed = ours_listed || (attrs && attrs->public_ip == options_.public_ip);
        }
        if (ours_listed) {
            if (auto lease = try_take_own(listed.kvs)) {
                return *lease;
            }
            if (attempt + 1 < kRaceRetries) {
                continue;  // it changed under us, or it was incompatible and is gone now
            }
        }
        auto previous = options_.previous_subnet;
        if (previous && subnet_fits(config_, *previous) && !taken.count(*previous)) {
            if (auto lease = try_create(*previous)) {
                return *lease;
            }
            continue;
        }
        auto candidates = free_subnets(config_, taken);
        if (candidates.empty()) {
            throw LeaseLost("out of subnets in " + config_.network.str());
        }
        auto pick = std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(random);
        if (auto lease = try_create(candidates[pick])) {
            return *lease;
        }
    }
    throw LeaseLost("no subnet after " + std::to_string(kRaceRetries) + " races");
}

Lease LeaseManager::renew(const Lease& lease) {
    if (lease.etcd_lease == 0) {
        return lease;  // a reservation never expires
    }
    auto fresh = grant();
    auto value = format_lease_value(options_.public_ip, config_.vni, lease.vtep_mac);
    auto txn = client_.replace_if_unchanged(lease.key, value, fresh, lease.mod_revision);
    if (!txn.succeeded) {
        revoke_quietly(fresh);
        throw LeaseLost("lease " + lease.subnet.str() + " changed or vanished before renewal");
    }
    revoke_quietly(lease.etcd_lease);
    return make_lease(lease.subnet, fresh, txn.revision, lease.vtep_mac);
}

bool LeaseManager::still_held(Lease& lease) {
    auto kv = client_.get(lease.key);
    if (!kv || kv->lease != lease.etcd_lease) {
        return false;
    }
    auto attrs = parse_lease_value(kv->value);
    if (!attrs || attrs->public_ip != options_.public_ip) {
        return false;
    }
    lease.mod_revision = kv->mod_revision;
    return true;
}

void LeaseManager::release(const Lease& lease) {
    client_.remove(lease.key);
    revoke_quietly(lease.etcd_lease);
}

}  // namespace shuttle::agent
