#include "agent/lease_manager.h"

#include <random>
#include <set>

#include "agent/lease_value.h"
#include "agent/log.h"

namespace shuttle::agent {
namespace {

constexpr int kRaceRetries = 10;

// The subnets of "<prefix>/subnets/10.244.1.0-24[&fd00::-64]".
std::optional<SubnetKey> subnets_of_key(const std::string& key, const std::string& prefix) {
    if (key.compare(0, prefix.size(), prefix) != 0) {
        return std::nullopt;
    }
    return parse_subnet_key(std::string_view(key).substr(prefix.size()));
}

template <typename T>
const T& pick(const std::vector<T>& items, std::mt19937& random) {
    return items[std::uniform_int_distribution<size_t>(0, items.size() - 1)(random)];
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

bool LeaseManager::is_ours(const LeaseAttrs& attrs) const {
    if (config_.enable_ipv4)
        return attrs.public_ip == options_.public_ip;
    return options_.public_ipv6 && attrs.public_ipv6 == options_.public_ipv6;
}

bool LeaseManager::fits(const SubnetKey& subnets) const {
    return subnet_fits(config_, subnets.ipv4) && ipv6_subnet_fits(config_, subnets.ipv6);
}

std::string LeaseManager::value_of(const MacAddress& mac) const {
    std::optional<LeaseV6> v6;
    if (config_.enable_ipv6) {
        if (!options_.public_ipv6) {
            throw std::invalid_argument(
                "EnableIPv6 needs this node's public IPv6 address (--public-ipv6, or a global "
                "IPv6 address on --iface)");
        }
        v6 = LeaseV6{*options_.public_ipv6, options_.vtep_mac_v6.value_or(mac)};
    }
    auto public_ip = config_.enable_ipv4 ? options_.public_ip : IpAddress::v4(0);
    return format_lease_value(public_ip, config_.vni,
                              config_.enable_ipv4 ? std::optional<MacAddress>(mac) : std::nullopt,
                              v6);
}

Lease LeaseManager::make_lease(const SubnetKey& subnets, int64_t etcd_lease, int64_t revision,
                               const MacAddress& mac) {
    last_mac_ = mac;  // a re-acquired lease keeps it: the VXLAN device has it
    Lease lease;
    lease.subnet = subnets.ipv4;
    lease.ipv6_subnet = subnets.ipv6;
    if (config_.enable_ipv6)
        lease.vtep_mac_v6 = options_.vtep_mac_v6.value_or(mac);
    lease.key = subnets_prefix() + subnet_key_name(subnets.ipv4, subnets.ipv6);
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
        auto subnets = subnets_of_key(kv.key, subnets_prefix());
        auto attrs = parse_lease_value(kv.value);
        if (!subnets || !attrs || !is_ours(*attrs)) {
            continue;
        }
        if (!fits(*subnets)) {
            log_info("lease " + kv.key.substr(subnets_prefix().size()) +
                     " of this node does not fit the config; deleting");
            client_.remove(kv.key);
            continue;
        }
        auto mac = options_.vtep_mac ? *options_.vtep_mac
                   : last_mac_       ? *last_mac_
                                     : attrs->vtep_mac.value_or(random_vtep_mac());
        // A reservation (no etcd lease) stays one; anything else gets a fresh TTL.
        int64_t etcd_lease = kv.lease == 0 ? 0 : grant();
        auto value = value_of(mac);
        auto txn = client_.replace_if_unchanged(kv.key, value, etcd_lease, kv.mod_revision);
        if (txn.succeeded) {
            revoke_quietly(kv.lease);  // the key is bound to the new lease now
            return make_lease(*subnets, etcd_lease, txn.revision, mac);
        }
        revoke_quietly(etcd_lease);
        return std::nullopt;  // changed meanwhile: list again
    }
    return std::nullopt;
}

std::optional<Lease> LeaseManager::try_create(const SubnetKey& subnets) {
    auto mac = options_.vtep_mac.value_or(last_mac_.value_or(random_vtep_mac()));
    auto key = subnets_prefix() + subnet_key_name(subnets.ipv4, subnets.ipv6);
    auto value = value_of(mac);
    auto etcd_lease = grant();
    auto txn = client_.create_if_absent(key, value, etcd_lease);
    if (!txn.succeeded) {
        revoke_quietly(etcd_lease);
        return std::nullopt;
    }
    if (auto first = created_earlier_with_a_subnet_of(subnets, key, txn.revision)) {
        log_info("lease " + key.substr(subnets_prefix().size()) + " shares a subnet with " +
                 first->substr(subnets_prefix().size()) + ", created first; choosing again");
        client_.remove(key);  // the revoke would delete it too, but may fail quietly
        revoke_quietly(etcd_lease);
        return std::nullopt;
    }
    return make_lease(subnets, etcd_lease, txn.revision, mac);
}

// A dual-stack key names both subnets, so etcd's create-if-absent cannot stop two nodes
// starting together from taking one IPv6 (or IPv4) subnet under two keys (flannel has the
// same race; CI saw it here). After the create, the key created at the lower revision keeps
// the subnet: the later one sees it (its list runs after its own create) and gives way.
std::optional<std::string> LeaseManager::created_earlier_with_a_subnet_of(
    const SubnetKey& subnets, const std::string& own_key, int64_t own_revision) {
    for (const auto& kv : client_.list_prefix(subnets_prefix()).kvs) {
        auto other = subnets_of_key(kv.key, subnets_prefix());
        if (kv.key == own_key || !other || kv.create_revision >= own_revision) {
            continue;
        }
        bool same_ipv4 = config_.enable_ipv4 && other->ipv4 == subnets.ipv4;
        bool same_ipv6 = subnets.ipv6 && other->ipv6 == subnets.ipv6;
        if (same_ipv4 || same_ipv6) {
            return kv.key;
        }
    }
    return std::nullopt;
}

// flannel reuses subnet.env's subnets only when every enabled family has one that is free and
// fits; an IPv6-only network's IPv4 part is always 0.0.0.0/0.
std::optional<SubnetKey> LeaseManager::previous_if_free(const std::set<IpPrefix>& taken,
                                                        const std::set<IpPrefix>& taken_v6) const {
    SubnetKey key{IpPrefix{IpAddress::v4(0), 0}, std::nullopt};
    if (config_.enable_ipv4) {
        const auto& previous = options_.previous_subnet;
        if (!previous || taken.count(*previous))
            return std::nullopt;
        key.ipv4 = *previous;
    }
    if (config_.enable_ipv6) {
        const auto& previous = options_.previous_ipv6_subnet;
        if (!previous || taken_v6.count(*previous))
            return std::nullopt;
        key.ipv6 = *previous;
    }
    return fits(key) ? std::optional<SubnetKey>(key) : std::nullopt;
}

Lease LeaseManager::acquire() {
    std::mt19937 random{std::random_device{}()};
    for (int attempt = 0; attempt < kRaceRetries; ++attempt) {
        auto listed = client_.list_prefix(subnets_prefix());
        std::set<IpPrefix> taken, taken_v6;
        bool ours_listed = false;
        for (const auto& kv : listed.kvs) {
            auto subnets = subnets_of_key(kv.key, subnets_prefix());
            if (!subnets) {
                continue;
            }
            taken.insert(subnets->ipv4);
            if (subnets->ipv6)
                taken_v6.insert(*subnets->ipv6);
            auto attrs = parse_lease_value(kv.value);
            ours_listed = ours_listed || (attrs && is_ours(*attrs));
        }
        if (ours_listed) {
            if (auto lease = try_take_own(listed.kvs)) {
                return *lease;
            }
            if (attempt + 1 < kRaceRetries) {
                continue;  // it changed under us, or it was incompatible and is gone now
            }
        }
        if (auto previous = previous_if_free(taken, taken_v6)) {
            if (auto lease = try_create(*previous)) {
                return *lease;
            }
            continue;
        }
        SubnetKey chosen{IpPrefix{IpAddress::v4(0), 0}, std::nullopt};
        if (config_.enable_ipv4) {
            auto candidates = free_subnets(config_, taken);
            if (candidates.empty()) {
                throw LeaseLost("out of subnets in " + config_.network.str());
            }
            chosen.ipv4 = pick(candidates, random);
        }
        if (config_.enable_ipv6) {
            auto candidates = free_ipv6_subnets(config_, taken_v6);
            if (candidates.empty()) {
                throw LeaseLost("out of subnets in " + config_.ipv6_network.str());
            }
            chosen.ipv6 = pick(candidates, random);
        }
        if (auto lease = try_create(chosen)) {
            return *lease;
        }
    }
    throw LeaseLost("no subnet after " + std::to_string(kRaceRetries) + " races");
}

Lease LeaseManager::renew(const Lease& lease) {
    if (lease.etcd_lease == 0) {
        return lease;  // a reservation never expires
    }
    auto value = value_of(lease.vtep_mac);
    auto fresh = grant();
    auto txn = client_.replace_if_unchanged(lease.key, value, fresh, lease.mod_revision);
    if (!txn.succeeded) {
        revoke_quietly(fresh);
        throw LeaseLost("lease " + lease.subnet.str() + " changed or vanished before renewal");
    }
    revoke_quietly(lease.etcd_lease);
    return make_lease({lease.subnet, lease.ipv6_subnet}, fresh, txn.revision, lease.vtep_mac);
}

bool LeaseManager::still_held(Lease& lease) {
    auto kv = client_.get(lease.key);
    if (!kv || kv->lease != lease.etcd_lease) {
        return false;
    }
    auto attrs = parse_lease_value(kv->value);
    if (!attrs || !is_ours(*attrs)) {
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
