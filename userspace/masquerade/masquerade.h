#pragma once

// flannel's masquerade rules in nftables, through libnftables: the table `ip shuttle` with
// one chain, `postrouting` (type nat, hook postrouting, priority srcnat):
//
//   meta mark & 0x4000 == 0x4000                return       kube-proxy masquerades those
//   ip saddr <node subnet> ip daddr <cluster>   return       pod → cluster: keep pod IPs
//   ip saddr <cluster> ip daddr <node subnet>   return       cluster → pod
//   ip saddr != <cluster> ip daddr <node subnet> return      outside → pod: keep client IP
//   ip saddr <cluster> ip daddr != 224.0.0.0/4  masquerade fully-random   pod → outside
//   ip saddr != <cluster> ip daddr <cluster>    masquerade fully-random   host → cluster
//
// shuttled installs it with --ip-masq. The CNI plugin's own ipMasq (ipMasq true and
// FLANNEL_IPMASQ false, so shuttled does not masquerade) installs the same table through
// plugin_config(): one table per node, whoever owns the masquerade.
//
// IPv6 (dual-stack and IPv6-only networks): the same rules in the table `ip6 shuttle`
// (`ip6 saddr`, multicast ff00::/8), from a Config of IPv6 prefixes. The two tables are
// independent: each family's calls take or derive the family.
//
// Every function acts on the network namespace of the calling thread.

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/ip.h"

namespace shuttle::masquerade {

inline constexpr const char* kTableName = "shuttle";
inline constexpr const char* kChainName = "postrouting";
inline constexpr unsigned kKubeProxyMark = 0x4000;

struct Config {
    IpPrefix cluster_network{};  // e.g. 10.244.0.0/16 (FLANNEL_NETWORK) or fd00:10:244::/56
    IpPrefix node_subnet{};      // e.g. 10.244.1.0/24 (the lease) or fd00:10:244:1::/64
    int family() const { return cluster_network.address.family; }
};

// "ip shuttle" or "ip6 shuttle".
std::string table_ref(int family);

// For the CNI plugin's ipMasq: the cluster network from subnet.env when there is one; a
// plain host-local network has none, and its own subnet is the cluster (the bridge plugin's
// ipMasq: masquerade whatever leaves the pod subnet, except multicast).
Config plugin_config(const IpPrefix& node_subnet,
                     const std::optional<IpPrefix>& cluster_network = std::nullopt);

// nft refused a command; what() carries nft's own error text.
class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The table exactly as `nft list table ip shuttle` prints it (canonical form, no handles).
// Throws std::invalid_argument for a config that is not two prefixes of one family with the
// node subnet inside the cluster network.
std::string table_text(const Config& config);
// The one nft transaction ensure() runs: create-if-absent, delete, define; atomic.
std::string ensure_script(const Config& config);

// Replaces the table's content with the rules for `config` in one transaction: packets see
// either the old rules or the new ones, never none. Idempotent.
void ensure(const Config& config);
// Deletes the family's table; false when it was not there.
bool remove(int family = AF_INET);
// The table is there with exactly the rules ensure(config) writes.
bool is_installed(const Config& config);

// What is installed, from nft's JSON listing, for status tools and tests.
struct Rule {
    std::string comment{};
    std::string expr_json{};  // the rule's "expr" array, compact JSON
};
struct Status {
    bool installed = false;
    // Read back from the pod → cluster rule (nft 1.0.6's JSON has no table comment).
    std::optional<Config> config{};
    std::string chain_type{}, chain_hook{};
    int chain_priority = 0;
    std::vector<Rule> rules{};
};
Status inspect(int family = AF_INET);
// Parses `nft -j list table ip[6] shuttle` output (exposed for tests).
Status parse_listing(const std::string& text);
// One line: "table ip shuttle: 6 rules (cluster 10.244.0.0/16, node subnet 10.244.1.0/24)"
// or "table ip shuttle: not installed".
std::string describe(int family = AF_INET);

}  // namespace shuttle::masquerade
