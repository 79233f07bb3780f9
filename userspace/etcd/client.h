#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "etcd/types.h"

namespace shuttle::etcd {

struct ClientOptions {
    std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", "https://..."
    std::string ca_file;                 // TLS: the CA that signed the server's certificate
    std::string cert_file;               // TLS client certificate (with key_file)
    std::string key_file;
    std::chrono::milliseconds request_timeout{2000};
    std::chrono::milliseconds connect_timeout{1000};
};

// "a,b , c" -> {"a","b","c"}.
std::vector<std::string> split_endpoints(std::string_view comma_separated);

// How a watch stream ended.
struct WatchEnd {
    enum Reason {
        stopped,      // should_stop() returned true
        closed,       // the server closed the stream or the connection broke: resume
        canceled,     // etcd canceled the watch (compaction: compact_revision is set): re-list
        unreachable,  // no endpoint accepted the stream
    } reason = closed;
    int64_t compact_revision = 0;
    std::string detail;
};

struct WatchRequest {
    std::string key;
    std::string range_end;       // prefix_range_end(key) for a prefix; empty = one key
    int64_t start_revision = 0;  // 0 = from now
    bool prev_kv = false;
};

// A client for etcd's v3 JSON gateway (/v3/..., POST, base64 keys). Unary calls share one curl
// handle under a mutex, so one Client may be used from several threads; a watch blocks its
// caller and uses its own handle. Transport errors move on to the next endpoint; every endpoint
// is tried once per call before TransportError is thrown.
class Client {
  public:
    explicit Client(ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    std::optional<KeyValue> get(const std::string& key);
    RangeResult range(const std::string& key, const std::string& range_end);
    RangeResult list_prefix(const std::string& prefix);
    // Returns the revision of the put.
    int64_t put(const std::string& key, const std::string& value, int64_t lease = 0);
    // Returns how many keys were deleted.
    int64_t remove(const std::string& key);
    // Puts only when the key does not exist (compare CREATE == 0).
    TxnResult create_if_absent(const std::string& key, const std::string& value, int64_t lease);
    // Puts only when the key is still at mod_revision (compare MOD == seen).
    TxnResult replace_if_unchanged(const std::string& key, const std::string& value, int64_t lease,
                                   int64_t mod_revision);
    void compact(int64_t revision);

    LeaseGrant lease_grant(std::chrono::seconds ttl);
    // One renewal; returns the new TTL in seconds, 0 when the lease no longer exists.
    int64_t lease_keepalive(int64_t id);
    void lease_revoke(int64_t id);
    // Remaining TTL in seconds, -1 when the lease does not exist.
    int64_t lease_time_to_live(int64_t id);

    // Runs one watch stream until it ends; on_message gets every line. should_stop is polled
    // about once a second (and after every line). Does not re-list or resume: see PrefixSync.
    WatchEnd watch(const WatchRequest& request,
                   const std::function<void(const WatchMessage&)>& on_message,
                   const std::function<bool()>& should_stop);

    // POSTs body to path (e.g. "/v3/kv/range") and returns the parsed JSON reply.
    nlohmann::json call(const std::string& path, const nlohmann::json& body);

    std::string current_endpoint() const;

  private:
    struct Handle;
    nlohmann::json call_once(const std::string& endpoint, const std::string& path,
                             const std::string& body);
    void configure(void* handle, const std::string& url) const;
    void rotate_from(size_t failed_index);

    ClientOptions options_;
    std::unique_ptr<Handle> handle_;
    mutable std::mutex mutex_;
    std::atomic<size_t> current_{0};
};

}  // namespace shuttle::etcd
