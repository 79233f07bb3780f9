#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace shuttle::etcd {

// One key as etcd's mvccpb.KeyValue; keys and values are raw bytes (decoded from base64).
struct KeyValue {
    std::string key;
    std::string value;
    int64_t create_revision = 0;
    int64_t mod_revision = 0;
    int64_t version = 0;
    int64_t lease = 0;  // 0 = no lease
    bool operator==(const KeyValue&) const = default;
};

struct RangeResult {
    std::vector<KeyValue> kvs;
    int64_t revision = 0;  // the store's revision when the range was read (header.revision)
};

struct TxnResult {
    bool succeeded = false;
    int64_t revision = 0;
    // On failure: the key as it is now (nullopt when it does not exist).
    std::optional<KeyValue> existing;
};

struct LeaseGrant {
    int64_t id = 0;
    int64_t ttl = 0;  // seconds
};

enum class EventType { put, remove };

struct Event {
    EventType type = EventType::put;
    KeyValue kv;  // for a removal only key and mod_revision are set
    std::optional<KeyValue> prev_kv;
};

// One line of the watch stream, unwrapped from {"result":...} or {"error":...}.
struct WatchMessage {
    int64_t revision = 0;  // header.revision
    bool created = false;
    bool canceled = false;
    int64_t compact_revision = 0;
    std::string cancel_reason;
    std::vector<Event> events;
    std::string error;  // non-empty: the stream reported an error (e.g. "etcdserver: no leader")
};

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// No endpoint could be reached (connect error, timeout, cut connection, no leader).
class TransportError : public Error {
  public:
    using Error::Error;
};

// etcd answered with an error (HTTP 4xx/5xx and {"error","message","code"}).
class ServerError : public Error {
  public:
    ServerError(const std::string& what, long http_status, int grpc_code)
        : Error(what), http_status(http_status), grpc_code(grpc_code) {}
    long http_status;
    int grpc_code;
};

}  // namespace shuttle::etcd
