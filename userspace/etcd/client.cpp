#include "etcd/client.h"

#include <curl/curl.h>

#include <exception>
#include <mutex>

#include "common/json_text.h"
#include "etcd/codec.h"

namespace shuttle::etcd {
namespace {

void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

SlistPtr json_headers(bool require_leader) {
    curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
    list = curl_slist_append(list, "Expect:");
    if (require_leader) {
        // Without it a member that lost quorum keeps a watch open silently forever.
        list = curl_slist_append(list, "Grpc-Metadata-hasleader: true");
    }
    return SlistPtr(list);
}

size_t append_to_string(char* data, size_t size, size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

std::string b64(const std::string& bytes) {
    return base64_encode(bytes);
}

// gRPC code 14 = UNAVAILABLE ("no leader", "request timed out"): another member may answer.
bool is_unavailable(long http_status, int grpc_code) {
    return http_status == 503 || grpc_code == 14;
}

nlohmann::json put_op(const std::string& key, const std::string& value, int64_t lease) {
    nlohmann::json put = {{"key", b64(key)}, {"value", b64(value)}};
    if (lease != 0) {
        put["lease"] = std::to_string(lease);
    }
    return {{"request_put", put}};
}

}  // namespace

struct Client::Handle {
    CurlPtr curl;
};

std::vector<std::string> split_endpoints(std::string_view comma_separated) {
    std::vector<std::string> endpoints;
    size_t start = 0;
    while (start <= comma_separated.size()) {
        auto comma = comma_separated.find(',', start);
        if (comma == std::string_view::npos) {
            comma = comma_separated.size();
        }
        auto item = comma_separated.substr(start, comma - start);
        while (!item.empty() && item.front() == ' ') {
            item.remove_prefix(1);
        }
        while (!item.empty() && (item.back() == ' ' || item.back() == '/')) {
            item.remove_suffix(1);
        }
        if (!item.empty()) {
            endpoints.emplace_back(item);
        }
        start = comma + 1;
    }
    return endpoints;
}

Client::Client(ClientOptions options) : options_(std::move(options)), handle_(new Handle) {
    if (options_.endpoints.empty()) {
        throw std::invalid_argument("etcd: no endpoints");
    }
    init_curl_once();
    handle_->curl.reset(curl_easy_init());
    if (!handle_->curl) {
        throw Error("curl_easy_init failed");
    }
}

Client::~Client() = default;

std::string Client::current_endpoint() const {
    return options_.endpoints[current_ % options_.endpoints.size()];
}

void Client::rotate_from(size_t failed_index) {
    size_t expected = failed_index;
    current_.compare_exchange_strong(expected, (failed_index + 1) % options_.endpoints.size());
}

void Client::configure(void* handle, const std::string& url) const {
    auto* curl = static_cast<CURL*>(handle);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, long(options_.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 10L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 5L);
    if (!options_.ca_file.empty()) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
    }
    if (!options_.cert_file.empty()) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, options_.cert_file.c_str());
    }
    if (!options_.key_file.empty()) {
        curl_easy_setopt(curl, CURLOPT_SSLKEY, options_.key_file.c_str());
    }
}

nlohmann::json Client::call_once(const std::string& endpoint, const std::string& path,
                                 const std::string& body) {
    CURL* curl = handle_->curl.get();
    curl_easy_reset(curl);  // keeps the connection cache
    configure(curl, endpoint + path);
    auto headers = json_headers(false);
    std::string reply;
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, long(body.size()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(options_.request_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to_string);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
        throw TransportError(endpoint + path + ": " + curl_easy_strerror(code));
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    auto json = parse_json_or_discarded(reply);
    if (status == 200 && json.is_object()) {
        return json;
    }
    std::string message = reply.substr(0, 300);
    int grpc_code = 0;
    if (json.is_object()) {
        if (auto it = json.find("message"); it != json.end() && it->is_string()) {
            message = it->get<std::string>();
        }
        grpc_code = static_cast<int>(int64_field(json, "code"));
    }
    std::string what = endpoint + path + ": HTTP " + std::to_string(status) + ": " + message;
    if (is_unavailable(status, grpc_code)) {
        throw TransportError(what);
    }
    throw ServerError(what, status, grpc_code);
}

nlohmann::json Client::call(const std::string& path, const nlohmann::json& body) {
    std::lock_guard lock(mutex_);
    std::string text = dump_json(body);
    std::string errors;
    for (size_t attempt = 0; attempt < options_.endpoints.size(); ++attempt) {
        size_t index = current_ % options_.endpoints.size();
        try {
            return call_once(options_.endpoints[index], path, text);
        } catch (const TransportError& e) {
            errors += errors.empty() ? e.what() : std::string("; ") + e.what();
            rotate_from(index);
        }
    }
    throw TransportError("etcd unreachable: " + errors);
}

RangeResult Client::range(const std::string& key, const std::string& range_end) {
    nlohmann::json body = {{"key", b64(key)}};
    if (!range_end.empty()) {
        body["range_end"] = b64(range_end);
    }
    return parse_range_response(call("/v3/kv/range", body));
}

std::optional<KeyValue> Client::get(const std::string& key) {
    auto result = range(key, "");
    if (result.kvs.empty()) {
        return std::nullopt;
    }
    return result.kvs.front();
}

RangeResult Client::list_prefix(const std::string& prefix) {
    return range(prefix, prefix_range_end(prefix));
}

int64_t Client::put(const std::string& key, const std::string& value, int64_t lease) {
    auto body = put_op(key, value, lease)["request_put"];
    auto reply = call("/v3/kv/put", body);
    return reply.contains("header") ? int64_field(reply["header"], "revision") : 0;
}

int64_t Client::remove(const std::string& key) {
    return int64_field(call("/v3/kv/deleterange", {{"key", b64(key)}}), "deleted");
}

TxnResult Client::create_if_absent(const std::string& key, const std::string& value,
                                   int64_t lease) {
    nlohmann::json body = {
        {"compare",
         {{{"key", b64(key)},
           {"target", "CREATE"},
           {"result", "EQUAL"},
           {"create_revision", "0"}}}},
        {"success", {put_op(key, value, lease)}},
        {"failure", {{{"request_range", {{"key", b64(key)}}}}}},
    };
    return parse_txn_response(call("/v3/kv/txn", body));
}

TxnResult Client::replace_if_unchanged(const std::string& key, const std::string& value,
                                       int64_t lease, int64_t mod_revision) {
    nlohmann::json body = {
        {"compare",
         {{{"key", b64(key)},
           {"target", "MOD"},
           {"result", "EQUAL"},
           {"mod_revision", std::to_string(mod_revision)}}}},
        {"success", {put_op(key, value, lease)}},
        {"failure", {{{"request_range", {{"key", b64(key)}}}}}},
    };
    return parse_txn_response(call("/v3/kv/txn", body));
}

void Client::compact(int64_t revision) {
    call("/v3/kv/compaction", {{"revision", std::to_string(revision)}, {"physical", true}});
}

LeaseGrant Client::lease_grant(std::chrono::seconds ttl) {
    return parse_lease_grant(call("/v3/lease/grant", {{"TTL", std::to_string(ttl.count())}}));
}

int64_t Client::lease_keepalive(int64_t id) {
    return parse_keepalive_ttl(call("/v3/lease/keepalive", {{"ID", std::to_string(id)}}));
}

void Client::lease_revoke(int64_t id) {
    try {
        call("/v3/lease/revoke", {{"ID", std::to_string(id)}});
    } catch (const ServerError& e) {
        if (e.grpc_code != 5) {  // NOT_FOUND: already gone, which is what we wanted
            throw;
        }
    }
}

int64_t Client::lease_time_to_live(int64_t id) {
    auto reply = call("/v3/lease/timetolive", {{"ID", std::to_string(id)}});
    return int64_field(reply, "TTL");
}

// ---- watch ------------------------------------------------------------------------------

namespace {

struct WatchState {
    const std::function<void(const WatchMessage&)>* on_message;
    const std::function<bool()>* should_stop;
    LineSplitter splitter;
    size_t bytes = 0;
    bool stop = false;
    bool canceled = false;
    int64_t compact_revision = 0;
    std::string error;
    std::exception_ptr exception;

    void handle_line(std::string_view line) {
        if (canceled || exception) {
            return;
        }
        try {
            auto message = parse_watch_line(line);
            if (!message.error.empty()) {
                error = message.error;
                return;
            }
            if (message.canceled) {
                canceled = true;
                compact_revision = message.compact_revision;
                error = message.cancel_reason;
            }
            (*on_message)(message);
        } catch (...) {
            exception = std::current_exception();
        }
    }
};

size_t on_watch_data(char* data, size_t size, size_t count, void* user) {
    auto* state = static_cast<WatchState*>(user);
    state->bytes += size * count;
    state->splitter.feed(std::string_view(data, size * count),
                         [state](std::string_view line) { state->handle_line(line); });
    // A canceled watch leaves the HTTP stream open: close it ourselves.
    bool done = state->canceled || state->exception || (*state->should_stop)();
    return done ? 0 : size * count;
}

int on_watch_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* state = static_cast<WatchState*>(user);
    if ((*state->should_stop)()) {
        state->stop = true;
        return 1;
    }
    return 0;
}

}  // namespace

namespace {

std::string watch_body(const WatchRequest& request) {
    nlohmann::json create = {{"key", b64(request.key)}, {"progress_notify", true}};
    if (!request.range_end.empty()) {
        create["range_end"] = b64(request.range_end);
    }
    if (request.start_revision > 0) {
        create["start_revision"] = std::to_string(request.start_revision);
    }
    if (request.prev_kv) {
        create["prev_kv"] = true;
    }
    return dump_json(nlohmann::json{{"create_request", create}});
}

struct StreamResult {
    CURLcode code = CURLE_OK;
    long http_status = 0;
};

// Runs one configured watch request to its end, feeding state.
StreamResult run_stream(CURL* curl, const std::string& body, curl_slist* headers,
                        WatchState& state) {
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, long(body.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_watch_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &state);
    StreamResult result;
    result.code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.http_status);
    auto rest = state.splitter.take_rest();
    if (!rest.empty()) {
        state.handle_line(rest);  // etcd's final error line has no '\n'
    }
    if (state.exception) {
        std::rethrow_exception(state.exception);
    }
    return result;
}

}  // namespace

WatchEnd Client::watch(const WatchRequest& request,
                       const std::function<void(const WatchMessage&)>& on_message,
                       const std::function<bool()>& should_stop) {
    auto body = watch_body(request);
    auto headers = json_headers(true);
    std::string errors;
    for (size_t attempt = 0; attempt < options_.endpoints.size(); ++attempt) {
        size_t index = current_ % options_.endpoints.size();
        const auto& endpoint = options_.endpoints[index];
        CurlPtr curl(curl_easy_init());
        configure(curl.get(), endpoint + "/v3/watch");
        WatchState state{&on_message, &should_stop, {}, 0, false, false, 0, {}, nullptr};
        auto result = run_stream(curl.get(), body, headers.get(), state);
        if (state.stop || should_stop()) {
            return {WatchEnd::stopped, 0, ""};
        }
        if (state.canceled) {
            return {WatchEnd::canceled, state.compact_revision, state.error};
        }
        if (state.bytes > 0 && result.http_status == 200) {
            // SIGTERMed etcd: CURLE_OK; SIGKILLed: CURLE_PARTIAL_FILE. Both mean reconnect. An
            // error line ("no leader") means this member cannot serve: prefer another one.
            if (!state.error.empty()) {
                rotate_from(index);
            }
            auto detail = state.error.empty() ? curl_easy_strerror(result.code) : state.error;
            return {WatchEnd::closed, 0, endpoint + ": " + detail};
        }
        std::string why = result.code != CURLE_OK ? curl_easy_strerror(result.code)
                                                  : "HTTP " + std::to_string(result.http_status);
        errors += (errors.empty() ? "" : "; ") + endpoint + ": " + why;
        rotate_from(index);
    }
    return {WatchEnd::unreachable, 0, errors};
}

}  // namespace shuttle::etcd
