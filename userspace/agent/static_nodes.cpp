#include "agent/static_nodes.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "agent/log.h"

namespace shuttle::agent {
namespace {

using nlohmann::json;

std::string field_text(const json& entry, const char* name, const std::string& where) {
    auto it = entry.find(name);
    if (it == entry.end() || !it->is_string()) {
        throw std::invalid_argument(where + "." + name + ": missing or not a string");
    }
    return it->get<std::string>();
}

Peer parse_node(const json& entry, const std::string& where) {
    if (!entry.is_object()) {
        throw std::invalid_argument(where + ": not an object");
    }
    Peer node;
    auto subnet_text = field_text(entry, "subnet", where);
    auto subnet = IpPrefix::parse(subnet_text);
    if (!subnet || !subnet->address.is_v4() || subnet->network() != *subnet) {
        throw std::invalid_argument(where + ".subnet: \"" + subnet_text +
                                    "\" is not an IPv4 subnet like 10.244.1.0/24");
    }
    node.subnet = *subnet;
    auto ip_text = field_text(entry, "PublicIP", where);
    auto ip = IpAddress::parse(ip_text);
    if (!ip || !ip->is_v4()) {
        throw std::invalid_argument(where + ".PublicIP: \"" + ip_text + "\" is not IPv4");
    }
    node.public_ip = *ip;
    auto mac_text = field_text(entry, "VtepMAC", where);
    auto mac = MacAddress::parse(mac_text);
    if (!mac) {
        throw std::invalid_argument(where + ".VtepMAC: \"" + mac_text + "\" is not a MAC");
    }
    node.vtep_mac = *mac;
    node.vni = 1;
    if (auto vni = entry.find("VNI"); vni != entry.end()) {
        if (!vni->is_number_integer() || *vni < 1 || *vni > (1 << 24) - 1) {
            throw std::invalid_argument(where + ".VNI: must be 1..16777215");
        }
        node.vni = vni->get<int>();
    }
    return node;
}

}  // namespace

IpPrefix covering_prefix(const std::vector<Peer>& nodes) {
    if (nodes.empty()) {
        throw std::invalid_argument("static nodes: the list is empty");
    }
    IpPrefix cover = nodes.front().subnet;
    for (const auto& node : nodes) {
        while (!cover.contains(node.subnet)) {
            --cover.length;
            cover = cover.network();
        }
    }
    return cover;
}

StaticCluster parse_static_nodes(const std::string& json_text) {
    auto root = parse_json_or_discarded(json_text);
    const json* list = &root;
    StaticCluster cluster;
    std::optional<IpPrefix> network;
    if (root.is_object()) {
        auto nodes = root.find("Nodes");
        if (nodes == root.end()) {
            throw std::invalid_argument("static nodes: an object needs \"Nodes\"");
        }
        list = &*nodes;
        if (auto text = root.find("Network"); text != root.end()) {
            network = text->is_string() ? IpPrefix::parse(text->get<std::string>()) : std::nullopt;
            if (!network || !network->address.is_v4()) {
                throw std::invalid_argument("static nodes: Network is not an IPv4 CIDR");
            }
            network = network->network();
        }
    }
    if (!list->is_array()) {
        throw std::invalid_argument("static nodes: not a JSON list of nodes");
    }
    for (size_t i = 0; i < list->size(); ++i) {
        cluster.nodes.push_back(parse_node((*list)[i], "static nodes[" + std::to_string(i) + "]"));
    }
    cluster.network = network ? *network : covering_prefix(cluster.nodes);
    for (size_t i = 0; i < cluster.nodes.size(); ++i) {
        const auto& node = cluster.nodes[i];
        auto where = "static nodes[" + std::to_string(i) + "]";
        if (!cluster.network.contains(node.subnet)) {
            throw std::invalid_argument(where + ".subnet: " + node.subnet.str() +
                                        " is not in Network " + cluster.network.str());
        }
        for (size_t j = 0; j < i; ++j) {
            const auto& other = cluster.nodes[j].subnet;
            if (other.contains(node.subnet) || node.subnet.contains(other)) {
                throw std::invalid_argument(where + ".subnet: " + node.subnet.str() +
                                            " overlaps nodes[" + std::to_string(j) + "]");
            }
        }
    }
    return cluster;
}

StaticAgent::StaticAgent(AgentOptions options, std::string path, PeerWatcher::OnPeers on_peers,
                         std::chrono::milliseconds reload_interval)
    : options_(std::move(options)),
      path_(std::move(path)),
      on_peers_(std::move(on_peers)),
      reload_interval_(reload_interval) {}

void StaticAgent::wake() {
    std::lock_guard lock(mutex_);
    woken_ = true;
    wakeup_.notify_all();
}

std::pair<bool, std::string> StaticAgent::readiness() const {
    bool ready = false;
    std::string text;
    {
        std::lock_guard lock(mutex_);
        ready = ready_;
        text = "static nodes " + path_ + ": " + state_ + "\n";
    }
    if (options_.extra_readiness) {
        auto [ok, line] = options_.extra_readiness();
        text += line + "\n";
        ready = ready && ok;
    }
    return {ready, text};
}

void StaticAgent::reload() {
    std::ifstream in(path_);
    if (!in) {
        throw std::runtime_error("cannot read " + path_);
    }
    std::stringstream text;
    text << in.rdbuf();
    if (text.str() == last_text_ && applied_) {
        return;
    }
    auto cluster = parse_static_nodes(text.str());
    const Peer* own = nullptr;
    PeerMap peers;
    for (const auto& node : cluster.nodes) {
        if (node.public_ip == options_.public_ip) {
            own = &node;
        } else {
            peers[node.subnet] = node;
        }
    }
    if (!own) {
        throw std::runtime_error("no entry with this node's PublicIP " + options_.public_ip.str());
    }
    update_subnet_env(options_.subnet_file, cluster.network, own->subnet, options_.underlay_mtu,
                      options_.ip_masq);
    auto current = std::pair{own->subnet, own->vtep_mac};
    if (options_.on_lease && applied_ != current) {
        NetworkConfig config;
        config.network = cluster.network;
        config.subnet_len = own->subnet.length;
        config.vni = own->vni;
        Lease lease;
        lease.subnet = own->subnet;
        lease.vtep_mac = own->vtep_mac;
        lease.renew_at = std::chrono::steady_clock::time_point::max();
        options_.on_lease(lease, config);
    }
    applied_ = current;
    if (on_peers_) {
        on_peers_(peers);
    }
    last_text_ = text.str();
    log_info("static nodes: " + own->subnet.str() + " is ours, " + std::to_string(peers.size()) +
             " peer(s), network " + cluster.network.str());
    std::lock_guard lock(mutex_);
    ready_ = true;
    state_ = own->subnet.str() + ", " + std::to_string(peers.size()) + " peer(s)";
}

void StaticAgent::run(const std::atomic<bool>& stop) {
    while (!stop) {
        try {
            reload();
        } catch (const std::exception& e) {
            std::lock_guard lock(mutex_);
            if (state_ != e.what()) {
                log_error(std::string(e.what()) +
                          (applied_ ? "; keeping the last good state" : ""));
            }
            ready_ = applied_.has_value();
            state_ = e.what();
        }
        std::unique_lock lock(mutex_);
        auto deadline = std::chrono::steady_clock::now() + reload_interval_;
        while (!woken_ && !stop && std::chrono::steady_clock::now() < deadline) {
            wakeup_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                            std::chrono::milliseconds(200)));
        }
        woken_ = false;
    }
}

}  // namespace shuttle::agent
