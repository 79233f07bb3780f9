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

// The optional IPv6 half: "IPv6Subnet" and "PublicIPv6", both or neither.
void parse_ipv6_half(const json& entry, const std::string& where, Peer& node) {
    bool has_subnet = entry.contains("IPv6Subnet");
    bool has_ip = entry.contains("PublicIPv6");
    if (!has_subnet && !has_ip) {
        return;
    }
    if (has_subnet != has_ip) {
        throw std::invalid_argument(where + (has_subnet ? ".PublicIPv6" : ".IPv6Subnet") +
                                    ": missing (an IPv6 half needs IPv6Subnet and PublicIPv6)");
    }
    auto subnet_text = field_text(entry, "IPv6Subnet", where);
    auto subnet = IpPrefix::parse(subnet_text);
    if (!subnet || subnet->address.is_v4() || subnet->network() != *subnet) {
        throw std::invalid_argument(where + ".IPv6Subnet: \"" + subnet_text +
                                    "\" is not an IPv6 subnet like fd00:10:244:1::/64");
    }
    auto ip_text = field_text(entry, "PublicIPv6", where);
    auto ip = IpAddress::parse(ip_text);
    if (!ip || ip->is_v4()) {
        throw std::invalid_argument(where + ".PublicIPv6: \"" + ip_text + "\" is not IPv6");
    }
    node.ipv6_subnet = *subnet;
    node.public_ipv6 = *ip;
    node.vtep_mac_v6 = node.vtep_mac;  // one device for both families
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
    parse_ipv6_half(entry, where, node);
    return node;
}

std::optional<IpPrefix> network_field(const json& root, const char* name, int family) {
    auto text = root.find(name);
    if (text == root.end()) {
        return std::nullopt;
    }
    auto network = text->is_string() ? IpPrefix::parse(text->get<std::string>()) : std::nullopt;
    if (!network || network->address.family != family) {
        throw std::invalid_argument(std::string("static nodes: ") + name + " is not an " +
                                    (family == AF_INET ? "IPv4" : "IPv6") + " CIDR");
    }
    return network->network();
}

std::string entry_name(size_t i) {
    return "static nodes[" + std::to_string(i) + "]";
}

// Every subnet of the family inside its network, none overlapping another.
void check_subnets(const std::vector<IpPrefix>& subnets, const IpPrefix& network, const char* field,
                   const char* network_name) {
    for (size_t i = 0; i < subnets.size(); ++i) {
        const auto& subnet = subnets[i];
        auto where = entry_name(i) + "." + field;
        if (!network.contains(subnet)) {
            throw std::invalid_argument(where + ": " + subnet.str() + " is not in " + network_name +
                                        " " + network.str());
        }
        for (size_t j = 0; j < i; ++j) {
            if (subnets[j].contains(subnet) || subnet.contains(subnets[j])) {
                throw std::invalid_argument(where + ": " + subnet.str() + " overlaps nodes[" +
                                            std::to_string(j) + "]");
            }
        }
    }
}

// Each node is found by its public address: no two may share one.
void check_public_addresses(const std::vector<Peer>& nodes) {
    for (size_t i = 0; i < nodes.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
            if (nodes[i].public_ip == nodes[j].public_ip) {
                throw std::invalid_argument(entry_name(i) +
                                            ".PublicIP: " + nodes[i].public_ip.str() +
                                            " is nodes[" + std::to_string(j) + "]'s too");
            }
            if (nodes[i].public_ipv6 && nodes[i].public_ipv6 == nodes[j].public_ipv6) {
                throw std::invalid_argument(entry_name(i) +
                                            ".PublicIPv6: " + nodes[i].public_ipv6->str() +
                                            " is nodes[" + std::to_string(j) + "]'s too");
            }
        }
    }
}

// A dual-stack network: every node has its IPv6 half, or none does.
std::optional<IpPrefix> ipv6_network_of(const std::vector<Peer>& nodes,
                                        std::optional<IpPrefix> given) {
    std::vector<IpPrefix> subnets;
    std::optional<size_t> without;
    for (size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].ipv6_subnet) {
            subnets.push_back(*nodes[i].ipv6_subnet);
        } else if (!without) {
            without = i;
        }
    }
    if (subnets.empty()) {
        if (given) {
            throw std::invalid_argument(
                "static nodes: IPv6Network given, but no node has an IPv6Subnet");
        }
        return std::nullopt;
    }
    if (without) {
        throw std::invalid_argument(entry_name(*without) +
                                    ".IPv6Subnet: missing (every node has one, or none)");
    }
    auto network = given ? *given : covering_prefix(subnets);
    check_subnets(subnets, network, "IPv6Subnet", "IPv6Network");
    return network;
}

// What the etcd agent reads from <prefix>/config, made from the file: dual-stack when the
// nodes have IPv6 halves.
NetworkConfig network_config(const StaticCluster& cluster, const Peer& own) {
    NetworkConfig config;
    config.network = cluster.network;
    config.subnet_len = own.subnet.length;
    config.vni = own.vni;
    if (cluster.ipv6_network && own.ipv6_subnet) {
        config.enable_ipv6 = true;
        config.ipv6_network = *cluster.ipv6_network;
        config.ipv6_subnet_len = own.ipv6_subnet->length;
    }
    return config;
}

}  // namespace

IpPrefix covering_prefix(const std::vector<IpPrefix>& subnets) {
    if (subnets.empty()) {
        throw std::invalid_argument("static nodes: the list is empty");
    }
    IpPrefix cover = subnets.front();
    for (const auto& subnet : subnets) {
        while (!cover.contains(subnet)) {
            --cover.length;
            cover = cover.network();
        }
    }
    return cover;
}

IpPrefix covering_prefix(const std::vector<Peer>& nodes) {
    std::vector<IpPrefix> subnets;
    subnets.reserve(nodes.size());
    for (const auto& node : nodes) {
        subnets.push_back(node.subnet);
    }
    return covering_prefix(subnets);
}

StaticCluster parse_static_nodes(const std::string& json_text) {
    auto root = parse_json_or_discarded(json_text);
    const json* list = &root;
    StaticCluster cluster;
    std::optional<IpPrefix> network;
    std::optional<IpPrefix> ipv6_network;
    if (root.is_object()) {
        auto nodes = root.find("Nodes");
        if (nodes == root.end()) {
            throw std::invalid_argument("static nodes: an object needs \"Nodes\"");
        }
        list = &*nodes;
        network = network_field(root, "Network", AF_INET);
        ipv6_network = network_field(root, "IPv6Network", AF_INET6);
    }
    if (!list->is_array()) {
        throw std::invalid_argument("static nodes: not a JSON list of nodes");
    }
    for (size_t i = 0; i < list->size(); ++i) {
        cluster.nodes.push_back(parse_node((*list)[i], entry_name(i)));
    }
    cluster.network = network ? *network : covering_prefix(cluster.nodes);
    std::vector<IpPrefix> subnets;
    for (const auto& node : cluster.nodes) {
        subnets.push_back(node.subnet);
    }
    check_subnets(subnets, cluster.network, "subnet", "Network");
    cluster.ipv6_network = ipv6_network_of(cluster.nodes, ipv6_network);
    check_public_addresses(cluster.nodes);
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

// The peers' routes send to this node's PublicIPv6 from the file; the device sends from
// options_.public_ipv6: they must be the same address.
void StaticAgent::check_own_ipv6(const Peer& own) const {
    if (!own.public_ipv6) {
        return;
    }
    if (!options_.public_ipv6) {
        throw std::runtime_error("this node's entry has PublicIPv6 " + own.public_ipv6->str() +
                                 ", but the node has none (--public-ipv6, or a global IPv6 "
                                 "address on the underlay)");
    }
    if (*own.public_ipv6 != *options_.public_ipv6) {
        throw std::runtime_error("this node's entry has PublicIPv6 " + own.public_ipv6->str() +
                                 ", but the node's is " + options_.public_ipv6->str() +
                                 " (--public-ipv6)");
    }
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
    check_own_ipv6(*own);
    std::optional<SubnetEnvV6> v6;
    if (own->ipv6_subnet) {
        v6 = SubnetEnvV6{*cluster.ipv6_network, *own->ipv6_subnet};
    }
    update_subnet_env(options_.subnet_file, cluster.network, own->subnet, options_.underlay_mtu,
                      options_.ip_masq, v6);
    auto current = std::tuple{own->subnet, own->vtep_mac, own->ipv6_subnet};
    if (options_.on_lease && applied_ != current) {
        Lease lease;
        lease.subnet = own->subnet;
        lease.vtep_mac = own->vtep_mac;
        lease.ipv6_subnet = own->ipv6_subnet;
        if (own->ipv6_subnet) {
            lease.vtep_mac_v6 = own->vtep_mac_v6;
        }
        lease.renew_at = std::chrono::steady_clock::time_point::max();
        options_.on_lease(lease, network_config(cluster, *own));
    }
    applied_ = current;
    if (on_peers_) {
        on_peers_(peers);
    }
    last_text_ = text.str();
    log_info("static nodes: " + own->subnet.str() +
             (own->ipv6_subnet ? " and " + own->ipv6_subnet->str() : std::string()) + " ours, " +
             std::to_string(peers.size()) + " peer(s), network " + cluster.network.str() +
             (cluster.ipv6_network ? " and " + cluster.ipv6_network->str() : std::string()));
    std::lock_guard lock(mutex_);
    ready_ = true;
    state_ = own->subnet.str() +
             (own->ipv6_subnet ? " and " + own->ipv6_subnet->str() : std::string()) + ", " +
             std::to_string(peers.size()) + " peer(s)";
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
