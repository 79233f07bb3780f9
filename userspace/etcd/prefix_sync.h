#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "etcd/client.h"

namespace shuttle::etcd {

struct PrefixSyncOptions {
    std::string prefix;
    // Full re-list even when the watch looks healthy (guards against anything missed). An idle
    // stream notices it at curl's next progress call, so the granularity is about a second.
    std::chrono::milliseconds resync_interval{std::chrono::minutes(5)};
    std::chrono::milliseconds backoff_min{500};
    std::chrono::milliseconds backoff_max{std::chrono::seconds(30)};
};

// Keeps a local copy of every key under a prefix: list, then watch from the list's revision+1,
// resuming from the last seen revision when a stream ends; a full re-list after compaction,
// after etcd was unreachable, and every resync_interval. The copy is kept while etcd is away.
class PrefixSync {
  public:
    using Snapshot = std::map<std::string, KeyValue>;
    // Called with the whole copy after every change (and after every re-list).
    using OnChange = std::function<void(const Snapshot&)>;
    // Called when etcd becomes reachable (true) or unreachable (false), with the reason.
    using OnHealth = std::function<void(bool reachable, const std::string& detail)>;

    PrefixSync(Client& client, PrefixSyncOptions options, OnChange on_change,
               OnHealth on_health = {});

    // Runs until stop is set; never throws for etcd trouble (it backs off and retries).
    void run(const std::atomic<bool>& stop);

    // Asks a running loop for a re-list as soon as possible (thread-safe).
    void request_resync() { resync_requested_ = true; }

    // Counters, for tests and logs.
    int relists() const { return relists_; }
    int reconnects() const { return reconnects_; }
    int compactions() const { return compactions_; }

  private:
    bool relist();
    void apply(const WatchMessage& message);
    void set_reachable(bool reachable, const std::string& detail);
    void sleep_backoff(const std::atomic<bool>& stop, std::chrono::milliseconds& backoff);

    Client& client_;
    PrefixSyncOptions options_;
    OnChange on_change_;
    OnHealth on_health_;
    Snapshot snapshot_;
    int64_t next_revision_ = 0;
    std::atomic<bool> resync_requested_{false};
    std::atomic<int> relists_{0};
    std::atomic<int> reconnects_{0};
    std::atomic<int> compactions_{0};
    int reachable_ = -1;  // unknown
    bool stream_created_ = false;
};

}  // namespace shuttle::etcd
