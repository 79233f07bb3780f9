#include "agent/ipv6_masquerade.h"

#include "agent/log.h"
#include "masquerade/masquerade.h"

namespace shuttle::agent {

namespace {

masquerade::Config config_of(const std::pair<IpPrefix, IpPrefix>& wanted) {
    return {wanted.first, wanted.second};
}

}  // namespace

void Ipv6Masquerade::apply(const std::optional<IpPrefix>& ipv6_subnet,
                           const NetworkConfig& config) {
    std::lock_guard lock(mutex_);
    if (!ip_masq_ || !ipv6_subnet || !config.enable_ipv6) {
        wanted_.reset();
        if (ip_masq_ && masquerade::remove(AF_INET6))
            log_info("removed nftables table ip6 shuttle (no IPv6 subnet)");
        return;
    }
    wanted_ = {config.ipv6_network, ipv6_subnet->network()};
    try {
        masquerade::ensure(config_of(*wanted_));
        last_error_.clear();
    } catch (const std::exception& e) {
        last_error_ = e.what();
        throw;
    }
}

bool Ipv6Masquerade::maintain() {
    std::lock_guard lock(mutex_);
    if (!wanted_)
        return false;
    try {
        if (masquerade::is_installed(config_of(*wanted_)))
            return false;
        log_info("nftables table ip6 shuttle missing or changed; reinstalling");
        masquerade::ensure(config_of(*wanted_));
        last_error_.clear();
        return true;
    } catch (const std::exception& e) {
        last_error_ = e.what();
        log_error("masquerade ip6: " + last_error_);
        return false;
    }
}

std::pair<bool, std::string> Ipv6Masquerade::readiness() const {
    std::lock_guard lock(mutex_);
    if (!wanted_)
        return {true, ""};
    if (!last_error_.empty())
        return {false, "masquerade ip6: " + last_error_};
    return {true, "masquerade ip6: table ip6 shuttle for " + wanted_->second.str() + " in " +
                      wanted_->first.str()};
}

}  // namespace shuttle::agent
