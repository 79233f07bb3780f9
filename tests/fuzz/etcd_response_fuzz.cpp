// etcd's JSON gateway answers (range, txn, lease grant, keepalive) as Client::call hands them
// over (any JSON object): each parser returns or throws etcd::Error, nothing else. base64
// decode of the input's text, and encode/decode of its bytes, round trip.
#include <nlohmann/json.hpp>

#include "etcd/codec.h"
#include "fuzz_input.h"

using namespace shuttle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto text = fuzz::as_text(data, size);
    if (etcd::base64_decode(etcd::base64_encode(text)) != std::string(text))
        fuzz::broken("base64 encode + decode changed the bytes");
    etcd::base64_decode(text);
    auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object())
        return 0;
    fuzz::parse_or_refuse<etcd::Error>([&] { etcd::parse_range_response(json); });
    fuzz::parse_or_refuse<etcd::Error>([&] { etcd::parse_txn_response(json); });
    fuzz::parse_or_refuse<etcd::Error>([&] { etcd::parse_lease_grant(json); });
    fuzz::parse_or_refuse<etcd::Error>([&] { etcd::parse_keepalive_ttl(json); });
    return 0;
}
