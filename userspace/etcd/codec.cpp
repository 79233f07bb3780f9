#include "etcd/codec.h"

#include <array>
#include <charconv>

#include "common/json_text.h"

namespace shuttle::etcd {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
    auto pos = kAlphabet.find(c);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

const nlohmann::json* find_field(const nlohmann::json& object, const char* name) {
    if (!object.is_object()) {
        return nullptr;
    }
    auto it = object.find(name);
    return it == object.end() ? nullptr : &*it;
}

std::string bytes_field(const nlohmann::json& object, const char* name) {
    auto* field = find_field(object, name);
    if (!field || !field->is_string()) {
        return "";
    }
    auto decoded = base64_decode(field->get<std::string>());
    if (!decoded) {
        throw Error(std::string("etcd sent bad base64 in ") + name);
    }
    return *decoded;
}

bool bool_field(const nlohmann::json& object, const char* name) {
    auto* field = find_field(object, name);
    return field && field->is_boolean() && field->get<bool>();
}

int64_t header_revision(const nlohmann::json& response) {
    auto* header = find_field(response, "header");
    return header ? int64_field(*header, "revision") : 0;
}

Event parse_event(const nlohmann::json& event) {
    Event parsed;
    auto* type = find_field(event, "type");
    // PUT is enum 0 and therefore omitted; DELETE is sent by name.
    if (type && ((type->is_string() && *type == "DELETE") || (type->is_number() && *type == 1))) {
        parsed.type = EventType::remove;
    }
    if (auto* kv = find_field(event, "kv")) {
        parsed.kv = parse_key_value(*kv);
    }
    if (auto* prev = find_field(event, "prev_kv")) {
        parsed.prev_kv = parse_key_value(*prev);
    }
    return parsed;
}

std::string stream_error_text(const nlohmann::json& error) {
    if (error.is_object()) {
        if (auto* message = find_field(error, "message"); message && message->is_string()) {
            return message->get<std::string>();
        }
    }
    if (error.is_string()) {
        return error.get<std::string>();
    }
    return dump_json(error);
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        uint32_t n =
            (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
        for (int shift : {18, 12, 6, 0}) {
            out += kAlphabet[(n >> shift) & 63];
        }
    }
    size_t rest = bytes.size() - i;
    if (rest > 0) {
        uint32_t n = uint8_t(bytes[i]) << 16;
        if (rest == 2) {
            n |= uint8_t(bytes[i + 1]) << 8;
        }
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (size_t i = 0; i < text.size(); i += 4) {
        std::array<int, 4> v{};
        int padding = 0;
        for (int j = 0; j < 4; ++j) {
            char c = text[i + j];
            bool last_group = i + 4 == text.size();
            if (c == '=' && last_group && j >= 2) {
                ++padding;
                v[j] = 0;
                continue;
            }
            if (padding > 0 || (v[j] = base64_value(c)) < 0) {
                return std::nullopt;
            }
        }
        uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
        out += char((n >> 16) & 0xff);
        if (padding < 2) {
            out += char((n >> 8) & 0xff);
        }
        if (padding < 1) {
            out += char(n & 0xff);
        }
    }
    return out;
}

std::string prefix_range_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        auto last = static_cast<unsigned char>(end.back());
        if (last < 0xff) {
            end.back() = static_cast<char>(last + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');
}

int64_t int64_field(const nlohmann::json& object, const char* name) {
    auto* field = find_field(object, name);
    if (!field || field->is_null()) {
        return 0;
    }
    if (field->is_number_integer()) {
        return field->get<int64_t>();
    }
    if (field->is_string()) {
        const auto& text = field->get_ref<const std::string&>();
        int64_t value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc() && end == text.data() + text.size()) {
            return value;
        }
    }
    throw Error(std::string("etcd sent a bad number in ") + name + ": " + field->dump());
}

KeyValue parse_key_value(const nlohmann::json& kv) {
    KeyValue parsed;
    parsed.key = bytes_field(kv, "key");
    parsed.value = bytes_field(kv, "value");
    parsed.create_revision = int64_field(kv, "create_revision");
    parsed.mod_revision = int64_field(kv, "mod_revision");
    parsed.version = int64_field(kv, "version");
    parsed.lease = int64_field(kv, "lease");
    return parsed;
}

RangeResult parse_range_response(const nlohmann::json& response) {
    RangeResult result;
    result.revision = header_revision(response);
    if (auto* kvs = find_field(response, "kvs"); kvs && kvs->is_array()) {
        for (const auto& kv : *kvs) {
            result.kvs.push_back(parse_key_value(kv));
        }
    }
    return result;
}

TxnResult parse_txn_response(const nlohmann::json& response) {
    TxnResult result;
    result.revision = header_revision(response);
    result.succeeded = bool_field(response, "succeeded");
    if (result.succeeded) {
        return result;
    }
    if (auto* responses = find_field(response, "responses"); responses && responses->is_array()) {
        for (const auto& op : *responses) {
            if (auto* range = find_field(op, "response_range")) {
                auto kvs = parse_range_response(*range).kvs;
                if (!kvs.empty()) {
                    result.existing = kvs.front();
                }
            }
        }
    }
    return result;
}

LeaseGrant parse_lease_grant(const nlohmann::json& response) {
    if (auto* error = find_field(response, "error"); error && !error->is_null()) {
        throw Error("lease grant: " + stream_error_text(*error));
    }
    LeaseGrant grant{int64_field(response, "ID"), int64_field(response, "TTL")};
    if (grant.id == 0) {
        throw Error("lease grant: etcd returned no lease ID");
    }
    return grant;
}

int64_t parse_keepalive_ttl(const nlohmann::json& response) {
    if (auto* error = find_field(response, "error")) {
        throw Error("lease keepalive: " + stream_error_text(*error));
    }
    auto* result = find_field(response, "result");
    return result ? int64_field(*result, "TTL") : int64_field(response, "TTL");
}

WatchMessage parse_watch_line(std::string_view line) {
    auto json = parse_json_or_discarded(line);
    if (!json.is_object()) {
        throw Error("watch: not a JSON object: " + std::string(line.substr(0, 200)));
    }
    WatchMessage message;
    if (auto* error = find_field(json, "error")) {
        message.error = stream_error_text(*error);
        return message;
    }
    const nlohmann::json* result = find_field(json, "result");
    if (!result) {
        result = &json;
    }
    message.revision = header_revision(*result);
    message.created = bool_field(*result, "created");
    message.canceled = bool_field(*result, "canceled");
    message.compact_revision = int64_field(*result, "compact_revision");
    if (auto* reason = find_field(*result, "cancel_reason"); reason && reason->is_string()) {
        message.cancel_reason = reason->get<std::string>();
    }
    if (auto* events = find_field(*result, "events"); events && events->is_array()) {
        for (const auto& event : *events) {
            message.events.push_back(parse_event(event));
        }
    }
    return message;
}

void LineSplitter::feed(std::string_view chunk,
                        const std::function<void(std::string_view)>& on_line) {
    buffer_.append(chunk);
    size_t start = 0;
    for (size_t nl; (nl = buffer_.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(buffer_.data() + start, nl - start);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (!line.empty()) {
            on_line(line);
        }
    }
    buffer_.erase(0, start);
}

std::string LineSplitter::take_rest() {
    return std::exchange(buffer_, std::string());
}

}  // namespace shuttle::etcd
