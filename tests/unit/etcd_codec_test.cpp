#include <catch2/catch.hpp>

#include "etcd/client.h"
#include "etcd/codec.h"

using namespace shuttle::etcd;

TEST_CASE("etcd base64 round-trips and rejects bad input") {
    REQUIRE(base64_encode("") == "");
    REQUIRE(base64_encode("f") == "Zg==");
    REQUIRE(base64_encode("fo") == "Zm8=");
    REQUIRE(base64_encode("foo") == "Zm9v");
    REQUIRE(base64_encode("/coreos.com/network/config") == "L2NvcmVvcy5jb20vbmV0d29yay9jb25maWc=");
    std::string binary("\x00\xff\x10\x80", 4);
    REQUIRE(base64_decode(base64_encode(binary)) == binary);
    REQUIRE(base64_decode("Zm9vYg==") == "foob");
    REQUIRE(base64_decode("Zm9vYmE=") == "fooba");
    REQUIRE_FALSE(base64_decode("Zm9"));
    REQUIRE_FALSE(base64_decode("Zm9*"));
    REQUIRE_FALSE(base64_decode("Z=9v"));
    REQUIRE_FALSE(base64_decode("Zg==Zm9v"));
}

TEST_CASE("etcd prefix range_end increments the last byte") {
    REQUIRE(prefix_range_end("/coreos.com/network/subnets/") == "/coreos.com/network/subnets0");
    REQUIRE(prefix_range_end("a") == "b");
    REQUIRE(prefix_range_end(std::string("a\xff", 2)) == "b");
    REQUIRE(prefix_range_end("") == std::string(1, '\0'));
    REQUIRE(prefix_range_end(std::string("\xff\xff", 2)) == std::string(1, '\0'));
}

TEST_CASE("etcd int64 fields come as strings, numbers or not at all") {
    auto json = nlohmann::json::parse(
        R"({"ID":"7587869937430937634","TTL":15,"big":"9223372036854775807","bad":"x1"})");
    REQUIRE(int64_field(json, "ID") == 7587869937430937634LL);
    REQUIRE(int64_field(json, "TTL") == 15);
    REQUIRE(int64_field(json, "big") == INT64_MAX);
    REQUIRE(int64_field(json, "missing") == 0);
    REQUIRE_THROWS_AS(int64_field(json, "bad"), shuttle::etcd::Error);
}

TEST_CASE("etcd range response with and without kvs") {
    auto full = nlohmann::json::parse(R"({
        "header":{"cluster_id":"1","revision":"42"},
        "kvs":[{"key":"L2EvYg==","create_revision":"5","mod_revision":"9","version":"3",
                "value":"dmFs","lease":"123"},
               {"key":"L2EvYw==","create_revision":"6","mod_revision":"6","version":"1"}],
        "count":"2"})");
    auto result = parse_range_response(full);
    REQUIRE(result.revision == 42);
    REQUIRE(result.kvs.size() == 2);
    REQUIRE(result.kvs[0] == KeyValue{"/a/b", "val", 5, 9, 3, 123});
    REQUIRE(result.kvs[1].key == "/a/c");
    REQUIRE(result.kvs[1].value.empty());  // an empty value is omitted
    REQUIRE(result.kvs[1].lease == 0);

    auto empty = parse_range_response(nlohmann::json::parse(R"({"header":{"revision":"7"}})"));
    REQUIRE(empty.revision == 7);
    REQUIRE(empty.kvs.empty());
}

TEST_CASE("etcd txn response: succeeded is omitted when false") {
    auto won = parse_txn_response(nlohmann::json::parse(
        R"({"header":{"revision":"10"},"succeeded":true,"responses":[{"response_put":{}}]})"));
    REQUIRE(won.succeeded);
    REQUIRE(won.revision == 10);
    REQUIRE_FALSE(won.existing);

    auto lost = parse_txn_response(nlohmann::json::parse(R"({"header":{"revision":"11"},
        "responses":[{"response_range":{"header":{},"kvs":[{"key":"aw==","value":"dg==",
        "create_revision":"3","mod_revision":"4","version":"2","lease":"77"}],"count":"1"}}]})"));
    REQUIRE_FALSE(lost.succeeded);
    REQUIRE(lost.existing);
    REQUIRE(lost.existing->value == "v");
    REQUIRE(lost.existing->mod_revision == 4);
    REQUIRE(lost.existing->lease == 77);

    // Lost a take-over because the key is gone: the failure range is empty.
    auto gone = parse_txn_response(
        nlohmann::json::parse(R"({"header":{},"responses":[{"response_range":{"header":{}}}]})"));
    REQUIRE_FALSE(gone.succeeded);
    REQUIRE_FALSE(gone.existing);
}

TEST_CASE("etcd lease replies: grant, keepalive of a gone lease") {
    auto grant = parse_lease_grant(
        nlohmann::json::parse(R"({"header":{},"ID":"2228897158546724639","TTL":"15"})"));
    REQUIRE(grant.id == 2228897158546724639LL);
    REQUIRE(grant.ttl == 15);
    REQUIRE_THROWS_AS(parse_lease_grant(nlohmann::json::parse(R"({"header":{}})")),
                      shuttle::etcd::Error);
    REQUIRE(parse_keepalive_ttl(
                nlohmann::json::parse(R"({"result":{"header":{},"ID":"5","TTL":"9"}})")) == 9);
    // An expired or unknown lease: HTTP 200, no TTL.
    REQUIRE(parse_keepalive_ttl(nlohmann::json::parse(R"({"result":{"header":{},"ID":"5"}})")) ==
            0);
    REQUIRE_THROWS_AS(parse_keepalive_ttl(nlohmann::json::parse(
                          R"({"error":{"grpc_code":14,"message":"etcdserver: no leader"}})")),
                      shuttle::etcd::Error);
}

TEST_CASE("etcd watch lines: created, put and delete events, compaction, stream error") {
    auto created = parse_watch_line(R"({"result":{"header":{"revision":"14"},"created":true}})");
    REQUIRE(created.created);
    REQUIRE(created.revision == 14);
    REQUIRE(created.events.empty());

    auto events = parse_watch_line(
        R"({"result":{"header":{"revision":"17"},"events":[)"
        R"({"kv":{"key":"aw==","create_revision":"15","mod_revision":"15","version":"1","value":"dg=="}},)"
        R"({"type":"DELETE","kv":{"key":"aw==","mod_revision":"17"},"prev_kv":{"key":"aw==","value":"dg=="}}]}})");
    REQUIRE(events.events.size() == 2);
    REQUIRE(events.events[0].type == EventType::put);
    REQUIRE(events.events[0].kv.value == "v");
    REQUIRE(events.events[1].type == EventType::remove);
    REQUIRE(events.events[1].kv.mod_revision == 17);
    REQUIRE(events.events[1].prev_kv->value == "v");

    auto canceled = parse_watch_line(
        R"({"result":{"header":{"revision":"20"},"canceled":true,"compact_revision":"16"}})");
    REQUIRE(canceled.canceled);
    REQUIRE(canceled.compact_revision == 16);

    auto error = parse_watch_line(
        R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}})");
    REQUIRE(error.error == "etcdserver: no leader");

    REQUIRE_THROWS_AS(parse_watch_line("before"), shuttle::etcd::Error);
    REQUIRE_THROWS_AS(parse_watch_line("[1]"), shuttle::etcd::Error);
}

TEST_CASE("etcd watch stream is split into lines across arbitrary chunks") {
    LineSplitter splitter;
    std::vector<std::string> lines;
    auto collect = [&](std::string_view line) { lines.emplace_back(line); };
    splitter.feed("{\"a\":1}\n{\"b\"", collect);
    REQUIRE(lines == std::vector<std::string>{"{\"a\":1}"});
    splitter.feed(":2}", collect);
    splitter.feed("\r\n\n{\"c\":3}\n{\"error\":", collect);
    REQUIRE(lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"});
    REQUIRE(splitter.take_rest() == "{\"error\":");
    REQUIRE(splitter.take_rest().empty());
}

TEST_CASE("etcd endpoints are split on commas") {
    REQUIRE(split_endpoints("http://127.0.0.1:4001, http://127.0.0.1:2379/") ==
            std::vector<std::string>{"http://127.0.0.1:4001", "http://127.0.0.1:2379"});
    REQUIRE(split_endpoints(",,").empty());
}
