#pragma once

// The pure parts of etcd's v3 JSON gateway: base64, 64-bit numbers as strings, omitted zero
// values, the {"result":..} wrapper of streams, and splitting the chunked watch stream into lines.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "etcd/types.h"

namespace shuttle::etcd {

std::string base64_encode(std::string_view bytes);
// nullopt on characters outside the alphabet or a bad length.
std::optional<std::string> base64_decode(std::string_view text);

// The range_end that selects every key starting with prefix: the prefix with its last byte
// incremented (trailing 0xff bytes dropped first); "\0" (all keys) when nothing is left.
std::string prefix_range_end(std::string_view prefix);

// An int64 field that the gateway sends as a string, accepts as a number, and omits when 0.
int64_t int64_field(const nlohmann::json& object, const char* name);

// Fields the gateway leaves out when empty come back as "", 0 or false.
KeyValue parse_key_value(const nlohmann::json& kv);
RangeResult parse_range_response(const nlohmann::json& response);
// "succeeded" is missing when false; "existing" comes from the failure branch's range.
TxnResult parse_txn_response(const nlohmann::json& response);
LeaseGrant parse_lease_grant(const nlohmann::json& response);
// Remaining TTL from a keepalive reply ({"result":{...}}); 0 = the lease is gone.
int64_t parse_keepalive_ttl(const nlohmann::json& response);
// One line of the watch stream; throws Error when it is not a JSON object.
WatchMessage parse_watch_line(std::string_view line);

// Buffers the arbitrary slices curl delivers and hands out complete '\n'-terminated lines.
class LineSplitter {
  public:
    void feed(std::string_view chunk, const std::function<void(std::string_view)>& on_line);
    // What is left without a final '\n' (etcd's last error line has none); clears the buffer.
    std::string take_rest();

  private:
    std::string buffer_;
};

}  // namespace shuttle::etcd
