#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "agent/agent.h"
#include "agent/peer_watcher.h"

namespace shuttle::agent {

// A cluster without etcd: every node listed in a file.
//   [{"subnet":"10.244.1.0/24","PublicIP":"192.0.2.1","VtepMAC":"02:..","VNI":1}, ...]
// or {"Network":"10.244.0.0/16","Nodes":[...]}. With the plain list, the network is the
// smallest prefix that covers every listed subnet.
// Dual-stack (flannel's EnableIPv6): every node also has "IPv6Subnet" ("fd00:10:244:1::/64")
// and "PublicIPv6"; the object form may give "IPv6Network" (else the smallest prefix
// covering the IPv6 subnets). A node's IPv6 VtepMAC is its VtepMAC: shuttle.<VNI> carries
// both families (overlay/vxlan_ipv6.h), as the etcd agent's BackendV6Data says too.
struct StaticCluster {
    IpPrefix network;
    std::optional<IpPrefix> ipv6_network;  // set when the nodes have IPv6 halves
    std::vector<Peer> nodes;
};

// Throws std::invalid_argument naming the entry and field: "static nodes[2].VtepMAC: ...".
StaticCluster parse_static_nodes(const std::string& json_text);

// The smallest prefix holding all of them (one family).
IpPrefix covering_prefix(const std::vector<IpPrefix>& subnets);
IpPrefix covering_prefix(const std::vector<Peer>& nodes);

// The Agent's job from a file instead of etcd: this node's entry (by PublicIP) is its
// "lease" (subnet.env, on_lease), the others are its peers. The file is read again when it
// changes (checked every reload_interval); a bad file keeps the last good state. With IPv6
// halves, this node's PublicIPv6 in the file must be options.public_ipv6 (the outer source
// the peers' routes expect), else the file is refused as bad.
class StaticAgent : public NodeAgent {
  public:
    StaticAgent(AgentOptions options, std::string path, PeerWatcher::OnPeers on_peers,
                std::chrono::milliseconds reload_interval = std::chrono::seconds(2));

    void run(const std::atomic<bool>& stop) override;
    void wake() override;
    std::pair<bool, std::string> readiness() const override;

  private:
    void reload();
    void check_own_ipv6(const Peer& own) const;

    AgentOptions options_;
    std::string path_;
    PeerWatcher::OnPeers on_peers_;
    std::chrono::milliseconds reload_interval_;
    std::string last_text_;
    std::optional<std::tuple<IpPrefix, MacAddress, std::optional<IpPrefix>>> applied_;
    mutable std::mutex mutex_;
    std::condition_variable wakeup_;
    bool woken_ = false;
    bool ready_ = false;
    std::string state_ = "not read yet";
};

}  // namespace shuttle::agent
