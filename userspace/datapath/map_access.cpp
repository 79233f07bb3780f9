#include "datapath/map_access.h"

namespace shuttle::datapath {

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
        }
    } else if (verdict == SHUTTLE_VERDICT_REDIRECT) {
        switch (reason) {
            case SHUTTLE_REDIRECT_LOCAL:
                return "local";
            case SHUTTLE_REDIRECT_ARP_REPLY:
                return "arp-reply";
            case SHUTTLE_REDIRECT_REMOTE:
                return "remote";
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
            case SHUTTLE_DROP_UNKNOWN_IFACE:
                return "unknown-iface";
        }
    }
    return "reason-" + std::to_string(reason);
}

}  // namespace shuttle::datapath
