#pragma once

// shuttlectl monitor: the programs' events as they come, and the trace switch in
// node_config that makes the programs report sampled forwarded packets too.

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>

#include "datapath/datapath.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {

// One events record as this build reads it: nullopt when shorter than the first layout's
// SHUTTLE_EVENT_V1_SIZE bytes; the fields an older build's shorter record lacks (the IPv6
// addresses) read as zero, what a newer build appends is ignored.
std::optional<shuttle_event> decode_event(const void* data, size_t size);

struct MonitorOptions {
    int count = 0;        // stop after this many events; 0: never
    int timeout_ms = -1;  // stop when no event came for this long; negative: never
    bool json = false;    // JSON lines instead of text lines
    // Also sampled forwarded packets: sets SHUTTLE_CONFIG_F_TRACE (1 in `sample`) while
    // monitoring and clears it on the way out, however the loop ends.
    bool trace = false;
    uint32_t sample = 1;
    // The loop ends soon after *stop becomes non-zero (a signal handler's flag).
    const volatile std::sig_atomic_t* stop = nullptr;
};

// Prints events from the `events` ring buffer as they come, one line each, with the pods'
// names where endpoint_meta knows the addresses. Returns how many were printed. The ring
// buffer has one consumer position: two monitors at once split the events between them.
int monitor_events(const Node& node, const MonitorOptions& options, std::FILE* out);

// Sets or clears SHUTTLE_CONFIG_F_TRACE and the sample rate in node_config. On, it holds for
// kTraceLeaseSeconds (node_config.trace_until): a monitor renews it while it runs.
inline constexpr int kTraceLeaseSeconds = 3;
void set_trace(const Node& node, bool on, uint32_t sample);

// Whether node_config asks the programs to trace now (flag on, lease not expired).
bool tracing_now(const shuttle_config& cfg);

}  // namespace shuttle::datapath
