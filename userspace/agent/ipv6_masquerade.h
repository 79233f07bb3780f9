#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "agent/network_config.h"
#include "common/ip.h"

namespace shuttle::agent {

// shuttled's --ip-masq for IPv6: flannel's masquerade rules for the lease's IPv6 subnet and
// IPv6Network as the nftables table `ip6 shuttle`, kept like `ip shuttle` (installed with the
// lease, repaired by maintain(), removed by uninstall_node). Nothing to do without --ip-masq
// or without an IPv6 subnet.
class Ipv6Masquerade {
  public:
    explicit Ipv6Masquerade(bool ip_masq) : ip_masq_(ip_masq) {}

    // Installs the table for this lease (or removes a stale one when the lease has no IPv6
    // subnet). Throws what masquerade::ensure throws.
    void apply(const std::optional<IpPrefix>& ipv6_subnet, const NetworkConfig& config);
    // Rebuilds the table when it went missing or changed; true when it did.
    bool maintain();
    // For /readyz: ok + "masquerade ip6: …".
    std::pair<bool, std::string> readiness() const;

  private:
    bool ip_masq_;
    mutable std::mutex mutex_;
    std::optional<std::pair<IpPrefix, IpPrefix>> wanted_;  // {IPv6Network, IPv6 subnet}
    std::string last_error_;
};

}  // namespace shuttle::agent
