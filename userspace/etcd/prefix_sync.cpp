#include "etcd/prefix_sync.h"

#include <thread>

#include "etcd/codec.h"

namespace shuttle::etcd {

PrefixSync::PrefixSync(Client& client, PrefixSyncOptions options, OnChange on_change,
                       OnHealth on_health)
    : client_(client),
      options_(std::move(options)),
      on_change_(std::move(on_change)),
      on_health_(std::move(on_health)) {}

void PrefixSync::set_reachable(bool reachable, const std::string& detail) {
    if (reachable_ == int(reachable)) {
        return;
    }
    reachable_ = reachable;
    if (on_health_) {
        on_health_(reachable, detail);
    }
}

bool PrefixSync::relist() {
    try {
        auto result = client_.list_prefix(options_.prefix);
        Snapshot fresh;
        for (auto& kv : result.kvs) {
            fresh.emplace(kv.key, std::move(kv));
        }
        snapshot_ = std::move(fresh);
        next_revision_ = result.revision + 1;
        ++relists_;
        set_reachable(true, client_.current_endpoint());
        on_change_(snapshot_);
        return true;
    } catch (const Error& e) {
        set_reachable(false, e.what());
        return false;
    }
}

void PrefixSync::apply(const WatchMessage& message) {
    if (message.created) {
        stream_created_ = true;
        set_reachable(true, client_.current_endpoint());
        if (message.revision > 0 && message.revision + 1 < next_revision_) {
            // etcd's revision went back (its data was lost, or restored from an older
            // backup): this watch waits for a revision that may never come. List again.
            resync_requested_ = true;
        }
    }
    if (message.events.empty()) {
        if (message.revision > 0 && !message.created && !message.canceled) {
            // Progress notification: nothing under the prefix changed up to this revision.
            next_revision_ = std::max(next_revision_, message.revision + 1);
        }
        return;
    }
    for (const auto& event : message.events) {
        if (event.type == EventType::put) {
            snapshot_[event.kv.key] = event.kv;
        } else {
            snapshot_.erase(event.kv.key);
        }
        next_revision_ = std::max(next_revision_, event.kv.mod_revision + 1);
    }
    on_change_(snapshot_);
}

void PrefixSync::sleep_backoff(const std::atomic<bool>& stop, std::chrono::milliseconds& backoff) {
    auto until = std::chrono::steady_clock::now() + backoff;
    while (!stop && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    backoff = std::min(backoff * 2, options_.backoff_max);
}

void PrefixSync::run(const std::atomic<bool>& stop) {
    auto backoff = options_.backoff_min;
    bool need_list = true;
    while (!stop) {
        if (need_list) {
            if (!relist()) {
                sleep_backoff(stop, backoff);
                continue;
            }
            need_list = false;
            resync_requested_ = false;
        }
        auto resync_at = std::chrono::steady_clock::now() + options_.resync_interval;
        bool resync_due = false;
        auto should_stop = [&] {
            if (std::chrono::steady_clock::now() >= resync_at || resync_requested_) {
                resync_due = true;
            }
            return stop || resync_due;
        };
        stream_created_ = false;
        WatchRequest request{options_.prefix, prefix_range_end(options_.prefix), next_revision_};
        WatchEnd end;
        try {
            end = client_.watch(
                request, [this](const WatchMessage& m) { apply(m); }, should_stop);
        } catch (const Error& e) {
            end = {WatchEnd::closed, 0, e.what()};
        }
        switch (end.reason) {
            case WatchEnd::stopped:
                need_list = resync_due;
                backoff = options_.backoff_min;
                break;
            case WatchEnd::canceled:  // compacted: events may be lost, DELETEs in particular
                ++compactions_;
                need_list = true;
                break;
            case WatchEnd::closed:  // resume from next_revision_ on a fresh stream
                ++reconnects_;
                if (stream_created_) {
                    backoff = options_.backoff_min;
                }
                sleep_backoff(stop, backoff);
                break;
            case WatchEnd::unreachable:
                ++reconnects_;
                set_reachable(false, end.detail);
                need_list = true;
                sleep_backoff(stop, backoff);
                break;
        }
    }
}

}  // namespace shuttle::etcd
