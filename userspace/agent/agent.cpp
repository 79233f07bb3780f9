#include "agent/agent.h"

#include "agent/lease_value.h"
#include "agent/log.h"
#include "flannel/subnet_env.h"

namespace shuttle::agent {
namespace {

constexpr int kEncapOverhead = 50;  // VXLAN over IPv4, as flannel

std::optional<IpPrefix> subnet_from_env_file(const std::string& path) {
    try {
        if (auto env = flannel::read_subnet_env(path)) {
            return env->subnet_network();
        }
    } catch (const std::exception& e) {
        log_error("ignoring " + path + ": " + e.what());
    }
    return std::nullopt;
}

}  // namespace

bool update_subnet_env(const std::string& path, const IpPrefix& network, const IpPrefix& subnet,
                       int underlay_mtu, bool ip_masq) {
    flannel::SubnetEnv env;
    env.network = network;
    env.subnet = {IpAddress::v4(subnet.address.v4_host_order() + 1), subnet.length};
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
    flannel::write_subnet_env(path, env);
    log_info("wrote " + path + " (FLANNEL_SUBNET=" + env.subnet.str() + ")");
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
    text += std::string("lease: ") + (s.lease_held ? "held " + s.subnet->str() : "not held") + "\n";
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
    auto previous_subnet = subnet_from_env_file(options_.subnet_file);
    LeaseOptions lease_options{options_.prefix,    options_.public_ip,    options_.vtep_mac,
                               options_.lease_ttl, options_.renew_margin, previous_subnet};
    manager_.emplace(client_, config, lease_options);
    log_info("network " + config.network.str() + ", subnets /" + std::to_string(config.subnet_len) +
             " from " + config.subnet_min.str() + " to " + config.subnet_max.str() + ", VNI " +
             std::to_string(config.vni) + ", port " + std::to_string(config.port));
    std::lock_guard lock(mutex_);
    status_.config = config;
}

void Agent::write_subnet_env(const Lease& lease) {
    {
        std::lock_guard lock(mutex_);
        status_.subnet_env_written = false;
    }
    update_subnet_env(options_.subnet_file, manager_->config().network, lease.subnet,
                      options_.underlay_mtu, options_.ip_masq);
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
        options_.resync_interval);
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
        manager_->set_previous_subnet(lease_->subnet);
        log_info("leased " + lease_->subnet.str() + " (" + lease_->key + ", etcd lease " +
                 std::to_string(lease_->etcd_lease) + ", VtepMAC " + lease_->vtep_mac.str() + ")");
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
        peers_->set_own_subnet(lease_->subnet);
        std::lock_guard lock(mutex_);
        status_.lease_held = true;
        status_.subnet = lease_->subnet;
        status_.vtep_mac = lease_->vtep_mac;
        status_.last_error.clear();
    }
    apply_lease();
    return talked;
}

void Agent::apply_lease() {
    auto current = std::pair{lease_->subnet, lease_->vtep_mac};
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
                manager_->set_previous_subnet(lease_->subnet);
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
