// shuttlectl monitor: events from the ring buffer, and the trace lease in node_config.
#include "datapath/monitor.h"

#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "common/system_error.h"
#include "datapath/abi_values.h"
#include "datapath/map_access.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {

using nlohmann::json;

namespace {

static_assert(offsetof(shuttle_event, saddr6) == SHUTTLE_EVENT_V1_SIZE,
              "shuttle_event: fields are only appended after the first layout's");

struct MonitorState {
    bool json = false;
    std::FILE* out = nullptr;
    int meta_fd = -1;
    int limit = 0;  // print no more than this (one poll may bring many); 0: no limit
    int printed = 0;
    // IPv6 pods' names: endpoint_meta6 (IPv6-only pods), else the IPv4 entry on the same host
    // veth (a dual-stack pod). Unset for pins of a build before IPv6.
    std::optional<EndpointTable> table;
    std::optional<EndpointTable6> table6;
    int meta6_fd = -1;
};

// "namespace/name" of the pod at `addr`, if endpoint_meta knows it.
std::optional<std::string> pod_name(int meta_fd, uint32_t addr) {
    if (addr == 0) {
        return std::nullopt;
    }
    auto meta = lookup<shuttle_endpoint_meta>(meta_fd, addr);
    if (!meta) {
        return std::nullopt;
    }
    return field_string(meta->pod_namespace) + "/" + field_string(meta->pod_name);
}

bool all_zero(const uint8_t (&bytes)[16]) {
    return std::all_of(std::begin(bytes), std::end(bytes), [](uint8_t b) { return b == 0; });
}

// "namespace/name" of the pod at the IPv6 address, if the maps know it.
std::optional<std::string> pod_name6(const MonitorState& state, const uint8_t (&addr)[16]) {
    if (all_zero(addr) || !state.table6 || !state.table) {
        return std::nullopt;
    }
    shuttle_ip6 ip{};
    std::memcpy(ip.addr, addr, sizeof ip.addr);
    if (state.meta6_fd >= 0) {
        if (auto meta = lookup<shuttle_endpoint_meta>(state.meta6_fd, ip)) {
            return field_string(meta->pod_namespace) + "/" + field_string(meta->pod_name);
        }
    }
    auto ep = state.table6->find(ip);
    if (!ep) {
        return std::nullopt;
    }
    for (uint32_t ip4 : keys<uint32_t>(state.meta_fd)) {  // drops are rare: a scan is fine
        auto ep4 = state.table->find(ip4);
        if (ep4 && ep4->ifindex == ep->ifindex) {
            return pod_name(state.meta_fd, ip4);
        }
    }
    return std::nullopt;
}

json event_json(const shuttle_event& e, const MonitorState& state) {
    const int meta_fd = state.meta_fd;
    uint32_t verdict = e.stat_key / SHUTTLE_REASONS_PER_VERDICT;
    uint32_t reason = e.stat_key % SHUTTLE_REASONS_PER_VERDICT;
    char proto[8];
    std::snprintf(proto, sizeof proto, "0x%04x", ntohs(e.eth_proto));
    json row = {{"timestamp_ns", e.timestamp_ns},
                {"type", e.type == SHUTTLE_EVENT_TRACE ? "trace" : "drop"},
                {"verdict", verdict_name(verdict)},
                {"reason", reason_name(verdict, reason)},
                {"ifindex", e.ifindex},
                {"len", e.len},
                {"src_mac", mac_text(e.smac)},
                {"dst_mac", mac_text(e.dmac)},
                {"eth_proto", proto}};
    if (e.saddr || e.daddr) {
        row["src"] = ip_text(e.saddr);
        row["dst"] = ip_text(e.daddr);
        row["ip_proto"] = e.ip_proto;
        row["ttl"] = e.ttl;
    } else if (!all_zero(e.saddr6) || !all_zero(e.daddr6)) {  // IPv6: ttl is the hop limit
        row["src"] = ipv6_of(e.saddr6).str();
        row["dst"] = ipv6_of(e.daddr6).str();
        row["ip_proto"] = e.ip_proto;
        row["ttl"] = e.ttl;
        if (auto pod = pod_name6(state, e.saddr6)) {
            row["src_pod"] = *pod;
        }
        if (auto pod = pod_name6(state, e.daddr6)) {
            row["dst_pod"] = *pod;
        }
        return row;
    }
    if (auto pod = pod_name(meta_fd, e.saddr)) {
        row["src_pod"] = *pod;
    }
    if (auto pod = pod_name(meta_fd, e.daddr)) {
        row["dst_pod"] = *pod;
    }
    return row;
}

// "10.244.1.2 (default/a)", or the MAC for a frame without IP addresses.
std::string endpoint_text(const json& row, const char* ip_key, const char* mac_key,
                          const char* pod_key) {
    std::string text = row.value(ip_key, row[mac_key].get<std::string>());
    if (row.contains(pod_key)) {
        text += " (" + row[pod_key].get<std::string>() + ")";
    }
    return text;
}

int on_event(void* ctx, void* data, size_t size) {
    auto* state = static_cast<MonitorState*>(ctx);
    std::optional<shuttle_event> record = decode_event(data, size);
    if (!record || (state->limit > 0 && state->printed >= state->limit)) {
        return 0;
    }
    const shuttle_event& event = *record;
    json row = event_json(event, *state);
    if (state->json) {
        std::fprintf(state->out, "%s\n", dump_json(row).c_str());
    } else {
        std::fprintf(state->out, "%s %s ifindex %u %s > %s len %u\n",
                     row["verdict"].get<std::string>().c_str(),
                     row["reason"].get<std::string>().c_str(), event.ifindex,
                     endpoint_text(row, "src", "src_mac", "src_pod").c_str(),
                     endpoint_text(row, "dst", "dst_mac", "dst_pod").c_str(), event.len);
    }
    std::fflush(state->out);
    ++state->printed;
    return 0;
}

// Tracing on for its lifetime: off again however monitor_events leaves.
class TraceSwitch {
  public:
    TraceSwitch(const Node& node, bool on, uint32_t sample)
        : node_(on ? &node : nullptr), sample_(sample) {
        if (node_) {
            set_trace(*node_, true, sample);
            renewed_ = std::chrono::steady_clock::now();
        }
    }
    // Renews the trace lease once a second, well inside kTraceLeaseSeconds.
    void keep_alive() {
        auto now = std::chrono::steady_clock::now();
        if (node_ && now - renewed_ >= std::chrono::seconds(1)) {
            set_trace(*node_, true, sample_);
            renewed_ = now;
        }
    }
    ~TraceSwitch() {
        if (node_) {
            try {
                set_trace(*node_, false, 0);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "shuttlectl: could not clear the trace flag: %s\n", e.what());
            }
        }
    }
    TraceSwitch(const TraceSwitch&) = delete;
    TraceSwitch& operator=(const TraceSwitch&) = delete;

  private:
    const Node* node_;
    uint32_t sample_;
    std::chrono::steady_clock::time_point renewed_{};
};

bool stopped(const MonitorOptions& options) {
    return options.stop && *options.stop != 0;
}

}  // namespace

namespace {

// CLOCK_MONOTONIC in the programs' unit (bpf_ktime_get_ns() >> SHUTTLE_TRACE_CLOCK_SHIFT).
uint32_t trace_clock_now() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t ns = static_cast<uint64_t>(now.tv_sec) * 1000000000ull + now.tv_nsec;
    return static_cast<uint32_t>(ns >> SHUTTLE_TRACE_CLOCK_SHIFT);
}

}  // namespace

std::optional<shuttle_event> decode_event(const void* data, size_t size) {
    if (size < SHUTTLE_EVENT_V1_SIZE) {
        return std::nullopt;
    }
    shuttle_event event{};  // a build before the IPv6 addresses sends a shorter record
    std::memcpy(&event, data, std::min(size, sizeof event));
    return event;
}

void set_trace(const Node& node, bool on, uint32_t sample) {
    int fd = node.map_fd("node_config");
    shuttle_config cfg = lookup<shuttle_config>(fd, uint32_t{0}).value_or(shuttle_config{});
    cfg.flags = on ? (cfg.flags | SHUTTLE_CONFIG_F_TRACE) : (cfg.flags & ~SHUTTLE_CONFIG_F_TRACE);
    cfg.trace_sample = on ? sample : 0;
    // one unit is ~1.07 s; +1 so that a lease never ends before kTraceLeaseSeconds
    cfg.trace_until = on ? trace_clock_now() + kTraceLeaseSeconds + 1 : 0;
    update(fd, uint32_t{0}, cfg);
}

bool tracing_now(const shuttle_config& cfg) {
    return (cfg.flags & SHUTTLE_CONFIG_F_TRACE) &&
           (cfg.trace_until == 0 || trace_clock_now() <= cfg.trace_until);
}

int monitor_events(const Node& node, const MonitorOptions& options, std::FILE* out) {
    MonitorState state;
    state.json = options.json;
    state.out = out;
    state.meta_fd = node.map_fd("endpoint_meta");
    state.limit = options.count;
    state.table.emplace(node.map_fd("endpoints"), node.map_fd("node_config"));
    try {
        state.table6.emplace(node.map_fd("endpoints6"), node.map_fd("endpoints6_hash"),
                             node.map_fd("node_config6"));
        state.meta6_fd = node.map_fd("endpoint_meta6");
    } catch (const std::invalid_argument&) {
        // pins of a build before IPv6 (or IPv6-only pods): names of what is there
    }
    std::unique_ptr<ring_buffer, void (*)(ring_buffer*)> rb(
        ring_buffer__new(node.map_fd("events"), on_event, &state, nullptr), ring_buffer__free);
    if (!rb) {
        throw_errno("open the events ring buffer");
    }
    TraceSwitch trace(node, options.trace, options.sample);
    // Short polls, so a stop request is seen within a fraction of a second.
    constexpr int kPollMs = 200;
    int quiet_ms = 0;
    while ((options.count == 0 || state.printed < options.count) && !stopped(options)) {
        int before = state.printed;
        int wait_ms = options.timeout_ms >= 0
                          ? std::max(0, std::min(kPollMs, options.timeout_ms - quiet_ms))
                          : kPollMs;
        trace.keep_alive();
        int n = ring_buffer__poll(rb.get(), wait_ms);
        if (n < 0 && n != -EINTR) {
            throw system_error(-n, "poll the events ring buffer");
        }
        quiet_ms = state.printed == before ? quiet_ms + wait_ms : 0;
        if (options.timeout_ms >= 0 && quiet_ms >= options.timeout_ms) {
            break;
        }
    }
    return state.printed;
}

}  // namespace shuttle::datapath
