#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>

#include "agent/lease_manager.h"
#include "agent/peer_watcher.h"
#include "etcd/client.h"

namespace shuttle::agent {

struct AgentOptions {
    etcd::ClientOptions etcd;
    std::string prefix = "/coreos.com/network";
    IpAddress public_ip;
    // With EnableIPv6: PublicIPv6 (--public-ipv6, or the underlay's global IPv6) and the
    // BackendV6Data VtepMAC (nullopt: vtep_mac).
    std::optional<IpAddress> public_ipv6;
    std::optional<MacAddress> vtep_mac_v6;
    int underlay_mtu = 1500;
    std::string subnet_file = "/run/flannel/subnet.env";
    bool ip_masq = false;
    std::optional<MacAddress> vtep_mac;
    std::chrono::seconds lease_ttl{std::chrono::hours(24)};
    std::chrono::seconds renew_margin{std::chrono::hours(1)};
    // How often the agent reads its own key back (besides the watch noticing its deletion).
    std::chrono::milliseconds check_interval{std::chrono::seconds(30)};
    std::chrono::milliseconds resync_interval{std::chrono::minutes(5)};
    std::chrono::milliseconds backoff_min{std::chrono::seconds(1)};
    std::chrono::milliseconds backoff_max{std::chrono::seconds(30)};
    // Part of /readyz for what the agent does not own itself (the datapath): ok + one line.
    std::function<std::pair<bool, std::string>()> extra_readiness;
    // Called on the agent's thread once a new lease (subnet or VtepMAC) is in place and
    // subnet.env is written, e.g. to put <subnet>.0/32 on the VXLAN device. When it throws, the
    // error is logged and it is called again after a backoff.
    std::function<void(const Lease&, const NetworkConfig&)> on_lease;
};

struct AgentStatus {
    std::optional<NetworkConfig> config;
    std::optional<IpPrefix> subnet;  // the lease we hold (or held when etcd went away)
    std::optional<IpPrefix> ipv6_subnet;
    MacAddress vtep_mac;
    bool lease_held = false;
    bool subnet_env_written = false;
    bool lease_applied = false;  // subnet.env and on_lease done for the current lease
    bool etcd_reachable = false;
    std::string etcd_detail;  // the last etcd error, when unreachable
    std::string last_error;
    size_t peers = 0;
};

// The IPv6 lines of subnet.env: FLANNEL_IPV6_NETWORK and the lease's IPv6 subnet.
struct SubnetEnvV6 {
    IpPrefix network;
    IpPrefix subnet;
};

// Writes flannel's subnet.env (FLANNEL_SUBNET = subnet + 1, FLANNEL_MTU = underlay − 50;
// FLANNEL_IPV6_SUBNET = IPv6 subnet + 1 with `v6`; without the IPv4 lines when `network` is
// 0.0.0.0/0, an IPv6-only network) atomically unless it already says exactly that; returns
// whether it wrote.
bool update_subnet_env(const std::string& path, const IpPrefix& network, const IpPrefix& subnet,
                       int underlay_mtu, bool ip_masq,
                       const std::optional<SubnetEnvV6>& v6 = std::nullopt);

// What shuttled runs: the etcd Agent or the StaticAgent.
class NodeAgent {
  public:
    virtual ~NodeAgent() = default;
    // Blocks until stop is set (then call wake() to return within 200 ms at most).
    virtual void run(const std::atomic<bool>& stop) = 0;
    virtual void wake() = 0;
    // For /readyz: ok + the reasons, one per line.
    virtual std::pair<bool, std::string> readiness() const = 0;
};

// The node agent's control loop without the datapath: network config, the subnet lease
// (acquire, renew, re-acquire when revoked from outside), subnet.env, and the peer watch.
// etcd trouble never ends it: it keeps its last state, logs, and retries with backoff.
class Agent : public NodeAgent {
  public:
    Agent(AgentOptions options, PeerWatcher::OnPeers on_peers);
    ~Agent() override;

    // Blocks until stop is set (and wake() is called or the next tick comes, within 200 ms).
    void run(const std::atomic<bool>& stop) override;
    void wake() override;

    AgentStatus status() const;
    // For /readyz: ready = lease held, subnet.env written, on_lease done, etcd reachable (and
    // extra_readiness); the text says why not.
    std::pair<bool, std::string> readiness() const override;

  private:
    void load_config();
    // One pass of the lease loop; true when it talked to etcd successfully.
    bool step(std::chrono::steady_clock::time_point& next_check, bool check_now);
    void record_error(const std::string& text);
    // subnet.env and on_lease for a lease not applied yet.
    void apply_lease();
    void write_subnet_env(const Lease& lease);
    void start_peer_watcher(const std::atomic<bool>& stop);
    void set_etcd(bool reachable, const std::string& detail);
    // Returns true when woken by wake() (the peer watch saw our key go).
    bool wait_until(std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& stop);

    AgentOptions options_;
    PeerWatcher::OnPeers on_peers_;
    etcd::Client client_;
    etcd::Client watch_client_;
    std::optional<LeaseManager> manager_;
    std::optional<Lease> lease_;
    std::optional<std::tuple<IpPrefix, MacAddress, std::optional<IpPrefix>>> applied_;
    std::unique_ptr<PeerWatcher> peers_;
    std::thread peer_thread_;

    mutable std::mutex mutex_;
    std::condition_variable wakeup_;
    bool woken_ = false;
    AgentStatus status_;
};

}  // namespace shuttle::agent
