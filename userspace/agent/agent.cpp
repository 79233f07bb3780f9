#include "agent/agent.h"

#include <filesystem>

#include "agent/lease_value.h"
#include "agent/log.h"
#include "flannel/subnet_env.h"

namespace shuttle::agent {
namespace {

constexpr int kEncapOverhead = 50;  // VXLAN over IPv4, as flannel

std::optional<flannel::SubnetEnv> read_env_file(const std::string& path) {
    try {
        return flannel::read_subnet_env(path);
    } catch (const std::exception& e) {
        log_error("ignoring " + path + ": " + e.what());
    }
    return std::nullopt;
}

// flannel writes the first usable address with the lease's length: 10.244.1.1/24.
IpPrefix first_usable(const IpPrefix& subnet) {
    auto next = subnet.address.to_integer() + 1;
    return {IpAddress::from_integer(subnet.address.family, next), subnet.length};
}

}  // namespace

bool update_subnet_env(const std::string& path, const IpPrefix& network, const IpPrefix& subnet,
                       int underlay_mtu, bool ip_masq, const std::optional<SubnetEnvV6>& v6) {
    flannel::SubnetEnv env;
    if (network.length != 0) {  // 0.0.0.0/0: an IPv6-only network
        env.network = network;
        env.subnet = first_usable(subnet);
    }
    if (v6) {
        env.ipv6_network = v6->network;
        env.ipv6_subnet = first_usable(v6->subnet);
    }
    env.mtu = underlay_mtu - kEncapOverhead;
    env.ip_masq = ip_masq;
    std::optional<flannel::SubnetEnv> current;
    try {
        current = flannel::read_subnet_env(path);
    } catch (const std::exception&) {
        // unreadable or not in flannel's format: replace it
    }
    if (current && flannel::format_subnet_env(*current) == flannel::format_subnet_env(env)) {
        return false;
    }
    // flanneld creates /run/flannel too (a fresh tmpfs /run has none).
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
        std::filesystem::create_directories(parent);
    }
    flannel::write_subnet_env(path, env);
    std::string lines = env.has_ipv4() ? "FLANNEL_SUBNET=" + env.subnet.str() : "";
    if (env.ipv6_subnet)
        lines += (lines.empty() ? "" : ", ") + ("FLANNEL_IPV6_SUBNET=" + env.ipv6_subnet->str());
    log_info("wrote " + path + " (" + lines + ")");
    return true;
}

Agent::Agent(AgentOptions options, PeerWatcher::OnPeers on_peers)
    : options_(std::move(options)),
      on_peers_(std::move(on_peers)),
      client_(options_.etcd),
      watch_client_(options_.etcd) {}

Agent::~Agent() {
    if (peer_thread_.joinable()) {
        peer_thread_.join();  // run() joins it; this only covers an exception out of run()
    }
}

void Agent::wake() {
    std::lock_guard lock(mutex_);
    woken_ = true;
    wakeup_.notify_all();
}

AgentStatus Agent::status() const {
    std::lock_guard lock(mutex_);
    return status_;
}

std::pair<bool, std::string> Agent::readiness() const {
    auto s = status();
    std::string text;
    auto held = s.lease_held ? "held " + s.subnet->str() : std::string("not held");
    if (s.lease_held && s.ipv6_subnet)
        held += " " + s.ipv6_subnet->str();
    text += "lease: " + held + "\n";
    text += std::string("subnet.env: ") +
            (s.subnet_env_written ? "written " + options_.subnet_file : "not written") + "\n";
    text += std::string("etcd: ") +
            (s.etcd_reachable ? "reachable" : "unreachable: " + s.etcd_detail) + "\n";
    text += "peers: " + std::to_string(s.peers) + "\n";
    if (options_.on_lease) {
        text += std::string("lease applied: ") + (s.lease_applied ? "yes" : "no") + "\n";
    }
    bool ready = s.lease_held && s.subnet_env_written && s.lease_applied && s.etcd_reachable;
    if (options_.extra_readiness) {
        auto [ok, line] = options_.extra_readiness();
        text += line + "\n";
        ready = ready && ok;
    }
    if (!s.last_error.empty()) {
        text += "last error: " + s.last_error + "\n";
    }
    return {ready, text};
}

void Agent::set_etcd(bool reachable, const std::string& detail) {
    std::lock_guard lock(mutex_);
    if (status_.etcd_reachable != reachable) {
        if (reachable) {
            log_info("etcd reachable");
        } else {
            log_error("etcd unreachable, keeping the last known state: " + detail);
        }
    }
    status_.etcd_reachable = reachable;
    status_.etcd_detail = reachable ? "" : detail;
}

bool Agent::wait_until(std::chrono::steady_clock::time_point deadline,
                       const std::atomic<bool>& stop) {
    std::unique_lock lock(mutex_);
    while (!woken_ && !stop && std::chrono::steady_clock::now() < deadline) {
        wakeup_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                        std::chrono::milliseconds(200)));
    }
    return std::exchange(woken_, false);
}

void Agent::load_config() {
    auto key = options_.prefix + "/config";
    auto kv = client_.get(key);
    if (!kv) {
        throw std::runtime_error("flannel config not found in etcd at " + key +
                                 " (written with the v3 API?)");
    }
    auto config = parse_network_config(kv->value);
    auto previous = read_env_file(options_.subnet_file);
    LeaseOptions lease_options;
    lease_options.prefix = options_.prefix;
    lease_options.public_ip = options_.public_ip;
    lease_options.vtep_mac = options_.vtep_mac;
    lease_options.ttl = options_.lease_ttl;
    lease_options.renew_margin = options_.renew_margin;
    if (previous && previous->has_ipv4())
        lease_options.previous_subnet = previous->subnet_network();
    if (previous)
        lease_options.previous_ipv6_subnet = previous->ipv6_subnet_network();
    lease_options.public_ipv6 = options_.public_ipv6;
    lease_options.vtep_mac_v6 = options_.vtep_mac_v6;
    manager_.emplace(client_, config, lease_options);
    if (config.enable_ipv4) {
        log_info("network " + config.network.str() + ", subnets /" +
                 std::to_string(config.subnet_len) + " from " + config.subnet_min.str() + " to " +
                 config.subnet_max.str() + ", VNI " + std::to_string(config.vni) + ", port " +
                 std::to_string(config.port));
    }
    if (config.enable_ipv6) {
        log_info("IPv6 network " + config.ipv6_network.str() + ", subnets /" +
                 std::to_string(config.ipv6_subnet_len) + " from " + config.ipv6_subnet_min.str() +
                 " to " + config.ipv6_subnet_max.str() + ", PublicIPv6 " +
                 (options_.public_ipv6 ? options_.public_ipv6->str() : std::string("unknown")));
    }
    std::lock_guard lock(mutex_);
    status_.config = config;
}

void Agent::write_subnet_env(const Lease& lease) {
    {
        std::lock_guard lock(mutex_);
        status_.subnet_env_written = false;
    }
    const auto& config = manager_->config();
    std::optional<SubnetEnvV6> v6;
    if (lease.ipv6_subnet)
        v6 = SubnetEnvV6{config.ipv6_network, *lease.ipv6_subnet};
    update_subnet_env(options_.subnet_file, config.network, lease.subnet, options_.underlay_mtu,
                      options_.ip_masq, v6);
    std::lock_guard lock(mutex_);
    status_.subnet_env_written = true;
}

void Agent::start_peer_watcher(const std::atomic<bool>& stop) {
    peers_ = std::make_unique<PeerWatcher>(
        watch_client_, options_.prefix + "/subnets/", manager_->config(), options_.public_ip,
        [this](const PeerMap& peers) {
            {
                std::lock_guard lock(mutex_);
                status_.peers = peers.size();
            }
            if (on_peers_) {
                on_peers_(peers);
            }
        },
        options_.resync_interval, options_.public_ipv6);
    peers_->set_on_own_lease_gone([this] { wake(); });
    peers_->set_on_health(
        [this](bool reachable, const std::string& detail) { set_etcd(reachable, detail); });
    peer_thread_ = std::thread([this, &stop] { peers_->run(stop); });
}

bool Agent::step(std::chrono::steady_clock::time_point& next_check, bool check_now) {
    auto now = std::chrono::steady_clock::now();
    bool talked = true;
    if (!lease_) {
        lease_ = manager_->acquire();
        manager_->set_previous_subnet(lease_->subnet, lease_->ipv6_subnet);
        log_info("leased " + lease_->key.substr(lease_->key.rfind('/') + 1) + " (" + lease_->key +
                 ", etcd lease " + std::to_string(lease_->etcd_lease) + ", VtepMAC " +
                 lease_->vtep_mac.str() + ")");
    } else if (now >= lease_->renew_at) {
        lease_ = manager_->renew(*lease_);
        log_info("renewed " + lease_->subnet.str() + " (etcd lease " +
                 std::to_string(lease_->etcd_lease) + ")");
    } else if (now >= next_check || check_now) {
        if (!manager_->still_held(*lease_)) {
            throw LeaseLost("lease " + lease_->subnet.str() +
                            " was revoked or taken from outside; re-acquiring");
        }
    } else {
        talked = false;
    }
    if (talked) {
        next_check = std::chrono::steady_clock::now() + options_.check_interval;
        peers_->set_own_subnet(lease_->subnet, lease_->ipv6_subnet);
        std::lock_guard lock(mutex_);
        status_.lease_held = true;
        status_.subnet = lease_->subnet;
        status_.ipv6_subnet = lease_->ipv6_subnet;
        status_.vtep_mac = lease_->vtep_mac;
        status_.last_error.clear();
    }
    apply_lease();
    return talked;
}

void Agent::apply_lease() {
    auto current = std::tuple{lease_->subnet, lease_->vtep_mac, lease_->ipv6_subnet};
    if (applied_ == current) {
        return;
    }
    {
        std::lock_guard lock(mutex_);
        status_.lease_applied = false;
    }
    write_subnet_env(*lease_);
    if (options_.on_lease) {
        options_.on_lease(*lease_, manager_->config());
    }
    applied_ = current;
    std::lock_guard lock(mutex_);
    status_.lease_applied = true;
}

void Agent::record_error(const std::string& text) {
    log_error(text);
    std::lock_guard lock(mutex_);
    status_.last_error = text;
}

void Agent::run(const std::atomic<bool>& stop) {
    auto backoff = options_.backoff_min;
    auto next_check = std::chrono::steady_clock::now() + options_.check_interval;
    bool check_now = false;
    while (!stop) {
        auto retry_at = std::chrono::steady_clock::now() + backoff;
        try {
            if (!manager_) {
                load_config();
                start_peer_watcher(stop);
            }
            if (step(next_check, check_now)) {
                set_etcd(true, "");
            }
            check_now = false;
            backoff = options_.backoff_min;
            auto deadline = next_check;
            if (lease_) {
                deadline = std::min(deadline, lease_->renew_at);
            }
            check_now = wait_until(deadline, stop);
            continue;
        } catch (const LeaseLost& e) {
            record_error(e.what());
            if (lease_) {
                manager_->set_previous_subnet(lease_->subnet, lease_->ipv6_subnet);
                lease_.reset();
                std::lock_guard lock(mutex_);
                status_.lease_held = false;
                continue;  // re-acquire at once
            }
        } catch (const etcd::Error& e) {
            set_etcd(false, e.what());
            record_error(std::string("etcd: ") + e.what() + "; retrying in " +
                         std::to_string(backoff.count()) + " ms");
        } catch (const std::exception& e) {
            record_error(std::string(e.what()) + "; retrying in " +
                         std::to_string(backoff.count()) + " ms");
        }
        wait_until(retry_at, stop);
        backoff = std::min(backoff * 2, options_.backoff_max);
    }
    if (peer_thread_.joinable()) {
        peer_thread_.join();
    }
}

}  // namespace shuttle::agent
