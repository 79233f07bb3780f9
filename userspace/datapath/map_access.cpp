#include "datapath/map_access.h"

namespace shuttle::datapath {

std::optional<uint32_t> EndpointTable::slot(uint32_t ip) const {
    auto cfg = lookup<shuttle_config>(config_fd_, uint32_t{0});
    if (!cfg || cfg->layout_version == 0 || cfg->node_subnet_len == 0) {
        return std::nullopt;
    }
    uint32_t offset = ntohl(ip) - ntohl(cfg->node_subnet);
    uint32_t size = cfg->node_subnet_len >= 32 ? 1u : 1u << (32 - cfg->node_subnet_len);
    if (offset >= size || offset >= SHUTTLE_MAX_ENDPOINTS) {
        return std::nullopt;
    }
    return offset;
}

std::optional<shuttle_endpoint> EndpointTable::find(uint32_t ip) const {
    auto index = slot(ip);
    if (!index) {
        return std::nullopt;
    }
    auto entry = lookup<shuttle_endpoint>(endpoints_fd_, *index);
    if (!entry || entry->ifindex == 0 || entry->pod_ip != ip) {
        return std::nullopt;
    }
    return entry;
}

void EndpointTable::put(uint32_t ip, const shuttle_endpoint& entry) const {
    auto index = slot(ip);
    if (!index) {
        char text[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &ip, text, sizeof text);
        throw std::invalid_argument(std::string("pod address ") + text +
                                    " is outside the node subnet of the datapath's config "
                                    "(set_config first)");
    }
    update(endpoints_fd_, *index, entry);
}

void EndpointTable::clear(uint32_t ip) const {
    if (find(ip)) {
        update(endpoints_fd_, *slot(ip), shuttle_endpoint{});
    }
}

bool EndpointTable6::configured() const {
    auto cfg = lookup<shuttle_config6>(config_fd_, uint32_t{0});
    return cfg && cfg->layout_version != 0;
}

std::optional<uint32_t> EndpointTable6::slot(const shuttle_ip6& ip) const {
    auto cfg = lookup<shuttle_config6>(config_fd_, uint32_t{0});
    if (!cfg || cfg->layout_version == 0 || std::memcmp(ip.addr, cfg->node_subnet, 14) != 0) {
        return std::nullopt;
    }
    return (uint32_t{ip.addr[14]} << 8) | ip.addr[15];
}

std::optional<shuttle_endpoint6> EndpointTable6::find(const shuttle_ip6& ip) const {
    auto index = slot(ip);
    auto entry = index ? lookup<shuttle_endpoint6>(slots_fd_, *index)
                       : lookup<shuttle_endpoint6>(hash_fd_, ip);
    if (!entry || entry->ifindex == 0 || std::memcmp(entry->pod_ip, ip.addr, 16) != 0) {
        return std::nullopt;
    }
    return entry;
}

void EndpointTable6::put(const shuttle_ip6& ip, const shuttle_endpoint6& entry) const {
    if (!configured()) {
        throw std::invalid_argument(
            "no IPv6 pod network in the datapath's config "
            "(set_pod_network6 first)");
    }
    if (auto index = slot(ip)) {
        update(slots_fd_, *index, entry);
    } else {
        update(hash_fd_, ip, entry);
    }
}

void EndpointTable6::clear(const shuttle_ip6& ip) const {
    if (!find(ip)) {
        return;
    }
    if (auto index = slot(ip)) {
        update(slots_fd_, *index, shuttle_endpoint6{});
    } else {
        erase(hash_fd_, ip);
    }
}

std::vector<shuttle_endpoint6> EndpointTable6::all() const {
    std::vector<shuttle_endpoint6> out;
    for (const auto& [index, entry] : read_all<uint32_t, shuttle_endpoint6>(
             slots_fd_, SHUTTLE_MAX_ENDPOINT6_SLOTS, "endpoints6")) {
        if (entry.ifindex != 0) {
            out.push_back(entry);
        }
    }
    for (const auto& [key, entry] : read_all<shuttle_ip6, shuttle_endpoint6>(
             hash_fd_, SHUTTLE_MAX_ENDPOINTS6_HASHED, "endpoints6_hash")) {
        out.push_back(entry);
    }
    return out;
}

std::vector<StatCounter> read_stats(int stats_fd) {
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) {
        throw system_error(-cpus, "possible CPUs");
    }
    std::vector<StatCounter> out;
    std::vector<shuttle_stat> per_cpu(static_cast<size_t>(cpus));
    for (uint32_t key = 0; key < SHUTTLE_STATS_ENTRIES; ++key) {
        if (bpf_map_lookup_elem(stats_fd, &key, per_cpu.data()) != 0) {
            throw_errno("read stats");
        }
        StatCounter counter;
        counter.verdict = key / SHUTTLE_REASONS_PER_VERDICT;
        counter.reason = key % SHUTTLE_REASONS_PER_VERDICT;
        for (const shuttle_stat& s : per_cpu) {
            counter.packets += s.packets;
            counter.bytes += s.bytes;
        }
        out.push_back(counter);
    }
    return out;
}

std::string verdict_name(uint32_t verdict) {
    switch (verdict) {
        case SHUTTLE_VERDICT_PASS:
            return "pass";
        case SHUTTLE_VERDICT_REDIRECT:
            return "redirect";
        case SHUTTLE_VERDICT_DROP:
            return "drop";
        default:
            return "verdict-" + std::to_string(verdict);
    }
}

std::string reason_name(uint32_t verdict, uint32_t reason) {
    if (verdict == SHUTTLE_VERDICT_PASS) {
        switch (reason) {
            case SHUTTLE_PASS_NOT_LOCAL:
                return "not-local";
            case SHUTTLE_PASS_NON_IP:
                return "non-ip";
            case SHUTTLE_PASS_ARP_OTHER:
                return "arp-other";
            case SHUTTLE_PASS_NAT_FLOW:
                return "nat-flow";
            case SHUTTLE_PASS_ENCAP:
                return "encap";
            case SHUTTLE_PASS_ENCAPSULATED:
                return "encapsulated";
            case SHUTTLE_PASS_TO_DEVICE:
                return "to-device";
            case SHUTTLE_PASS_NOT_VXLAN:
                return "not-vxlan";
            case SHUTTLE_PASS_NDP_OTHER:
                return "ndp-other";
            case SHUTTLE_PASS_ICMPV6_STACK:
                return "icmpv6-stack";
        }
    } else if (verdict == SHUTTLE_VERDICT_REDIRECT) {
        switch (reason) {
            case SHUTTLE_REDIRECT_LOCAL:
                return "local";
            case SHUTTLE_REDIRECT_ARP_REPLY:
                return "arp-reply";
            case SHUTTLE_REDIRECT_REMOTE:
                return "remote";
            case SHUTTLE_REDIRECT_DECAP:
                return "decap";
            case SHUTTLE_REDIRECT_ENCAP_DIRECT:
                return "encap-direct";
            case SHUTTLE_REDIRECT_DECAP_DIRECT:
                return "decap-direct";
            case SHUTTLE_REDIRECT_NA_REPLY:
                return "na-reply";
        }
    } else if (verdict == SHUTTLE_VERDICT_DROP) {
        switch (reason) {
            case SHUTTLE_DROP_MALFORMED:
                return "malformed";
            case SHUTTLE_DROP_TTL_EXPIRED:
                return "ttl-expired";
            case SHUTTLE_DROP_SPOOFED_IP:
                return "spoofed-ip";
            case SHUTTLE_DROP_SPOOFED_MAC:
                return "spoofed-mac";
            case SHUTTLE_DROP_NO_CONFIG:
                return "no-config";
            case SHUTTLE_DROP_REDIRECT_FAILED:
                return "tunnel-key-failed";
            case SHUTTLE_DROP_NO_ROUTE:
                return "no-route";
            case SHUTTLE_DROP_WRONG_VNI:
                return "wrong-vni";
            case SHUTTLE_DROP_UNKNOWN_NODE:
                return "unknown-node";
            case SHUTTLE_DROP_FORGED_INNER_SRC:
                return "forged-inner-src";
            case SHUTTLE_DROP_TUNNEL_FROM_POD:
                return "tunnel-from-pod";
        }
    }
    return "reason-" + std::to_string(reason);
}

}  // namespace shuttle::datapath
