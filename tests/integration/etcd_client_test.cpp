#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "etcd/client.h"
#include "etcd/codec.h"
#include "etcd/prefix_sync.h"
#include "etcd_test_server.h"
#include "tcp_hold_proxy.h"

using namespace shuttle;
using namespace std::chrono_literals;
using shuttle::test::EtcdTestServer;
using shuttle::test::eventually;

namespace {

// Runs one watch stream on a thread and records every event.
class WatchRecorder {
  public:
    WatchRecorder(etcd::Client& client, etcd::WatchRequest request)
        : thread_([this, &client, request] {
              end_ = client.watch(
                  request,
                  [this](const etcd::WatchMessage& message) {
                      std::lock_guard lock(mutex_);
                      created_ = created_ || message.created;
                      for (const auto& event : message.events) {
                          events_.push_back(event);
                      }
                  },
                  [this] { return stop_.load(); });
              done_ = true;
          }) {}
    ~WatchRecorder() { finish(); }

    void finish() {
        stop_ = true;
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    std::vector<etcd::Event> events() {
        std::lock_guard lock(mutex_);
        return events_;
    }
    bool created() {
        std::lock_guard lock(mutex_);
        return created_;
    }
    bool done() const { return done_; }
    etcd::WatchEnd end() const { return end_; }

  private:
    std::mutex mutex_;
    std::vector<etcd::Event> events_;
    bool created_ = false;
    std::atomic<bool> stop_{false}, done_{false};
    etcd::WatchEnd end_;
    std::thread thread_;
};

}  // namespace

TEST_CASE("etcd client: put, get, list a prefix, delete") {
    EtcdTestServer server;
    etcd::Client client(server.client_options());
    REQUIRE_FALSE(client.get("/p/a"));
    auto rev1 = client.put("/p/a", "one");
    auto rev2 = client.put("/p/b", std::string("bin\0ary", 7));
    client.put("/q", "outside");
    REQUIRE(rev2 > rev1);
    auto a = client.get("/p/a");
    REQUIRE(a);
    REQUIRE(a->value == "one");
    REQUIRE(a->create_revision == rev1);
    REQUIRE(a->version == 1);

    auto list = client.list_prefix("/p/");
    REQUIRE(list.kvs.size() == 2);
    REQUIRE(list.kvs[1].value == std::string("bin\0ary", 7));
    REQUIRE(list.revision >= rev2 + 1);

    REQUIRE(client.remove("/p/a") == 1);
    REQUIRE(client.remove("/p/a") == 0);
    REQUIRE(client.list_prefix("/p/").kvs.size() == 1);
}

TEST_CASE("etcd client: create-if-absent and take-over transactions conflict") {
    EtcdTestServer server;
    etcd::Client client(server.client_options());
    auto first = client.create_if_absent("/k", "mine", 0);
    REQUIRE(first.succeeded);
    auto second = client.create_if_absent("/k", "theirs", 0);
    REQUIRE_FALSE(second.succeeded);
    REQUIRE(second.existing);
    REQUIRE(second.existing->value == "mine");

    auto seen = second.existing->mod_revision;
    client.put("/k", "changed behind our back");
    auto stale = client.replace_if_unchanged("/k", "take over", 0, seen);
    REQUIRE_FALSE(stale.succeeded);
    REQUIRE(stale.existing->value == "changed behind our back");
    auto fresh = client.replace_if_unchanged("/k", "take over", 0, stale.existing->mod_revision);
    REQUIRE(fresh.succeeded);
    REQUIRE(client.get("/k")->value == "take over");

    client.remove("/k");
    auto gone = client.replace_if_unchanged("/k", "x", 0, fresh.revision);
    REQUIRE_FALSE(gone.succeeded);
    REQUIRE_FALSE(gone.existing);
}

// Keep-alives 500 ms apart hold a 5 s lease for 6 s, longer than its TTL, while a 2 s lease
// left alone expires. A keep-alive may be late by 4.5 s (a busy machine, the suite in
// parallel); the 2 s lease is checked 4 s after its end.
TEST_CASE("etcd client: a lease expires unless kept alive, revoke deletes its keys") {
    EtcdTestServer server;
    etcd::Client client(server.client_options());
    auto kept = client.lease_grant(5s);
    auto left = client.lease_grant(2s);
    REQUIRE(kept.id != left.id);
    REQUIRE(kept.ttl == 5);
    client.put("/kept", "v", kept.id);
    client.put("/left", "v", left.id);
    REQUIRE(client.get("/left")->lease == left.id);
    for (int i = 0; i < 12; ++i) {
        REQUIRE(client.lease_keepalive(kept.id) == 5);
        std::this_thread::sleep_for(500ms);
    }
    REQUIRE_FALSE(client.get("/left"));
    REQUIRE(client.lease_keepalive(left.id) == 0);
    REQUIRE(client.lease_time_to_live(left.id) == -1);
    REQUIRE(client.get("/kept"));
    REQUIRE(client.lease_time_to_live(kept.id) > 0);

    client.lease_revoke(kept.id);
    REQUIRE_FALSE(client.get("/kept"));
    client.lease_revoke(kept.id);  // a second revoke is not an error
}

TEST_CASE("etcd client: a prefix watch sees puts and deletes of another writer") {
    EtcdTestServer server;
    etcd::Client client(server.client_options());
    etcd::Client writer(server.client_options());
    auto start = writer.put("/other", "x") + 1;
    WatchRecorder recorder(client, {"/w/", etcd::prefix_range_end("/w/"), start, true});
    REQUIRE(eventually([&] { return recorder.created(); }));
    writer.put("/w/a", "1");
    writer.put("/outside", "2");
    writer.put("/w/a", "3");
    writer.remove("/w/a");
    REQUIRE(eventually([&] { return recorder.events().size() == 3; }));
    recorder.finish();
    auto events = recorder.events();
    REQUIRE(events[0].type == etcd::EventType::put);
    REQUIRE(events[0].kv.value == "1");
    REQUIRE(events[1].kv.value == "3");
    REQUIRE(events[1].kv.version == 2);
    REQUIRE(events[2].type == etcd::EventType::remove);
    REQUIRE(events[2].kv.key == "/w/a");
    REQUIRE(events[2].prev_kv->value == "3");
    REQUIRE(recorder.end().reason == etcd::WatchEnd::stopped);
}

TEST_CASE("etcd client: a watch from a compacted revision is canceled") {
    EtcdTestServer server;
    etcd::Client client(server.client_options());
    auto first = client.put("/c/a", "1");
    client.put("/c/a", "2");
    auto last = client.put("/c/a", "3");
    client.compact(last);
    std::atomic<bool> stop{false};
    auto end = client.watch(
        {"/c/", etcd::prefix_range_end("/c/"), first}, [](const etcd::WatchMessage&) {},
        [&] { return stop.load(); });
    REQUIRE(end.reason == etcd::WatchEnd::canceled);
    REQUIRE(end.compact_revision == last);
}

TEST_CASE("etcd client: fails over to the next endpoint") {
    EtcdTestServer server;
    auto options = server.client_options();
    std::string dead = "http://127.0.0.1:" + std::to_string(test::free_local_port());
    options.endpoints = {dead, server.endpoint()};
    etcd::Client client(options);
    client.put("/f", "v");
    REQUIRE(client.current_endpoint() == server.endpoint());
    REQUIRE(client.get("/f")->value == "v");

    etcd::Client watcher(options);  // a fresh client starts on the dead endpoint again
    WatchRecorder recorder(watcher, {"/f", "", 0});
    REQUIRE(eventually([&] { return recorder.created(); }));
    client.put("/f", "w");
    REQUIRE(eventually([&] { return recorder.events().size() == 1; }));

    etcd::Client nowhere({{dead}, "", "", "", 300ms, 300ms});
    REQUIRE_THROWS_AS(nowhere.get("/f"), etcd::TransportError);
}

TEST_CASE("etcd client: a watch stream ends when etcd stops, it resumes by revision") {
    EtcdTestServer server;
    etcd::Client client(server.client_options());
    etcd::Client writer(server.client_options());
    for (int signal : {SIGTERM, SIGKILL}) {
        auto next = writer.put("/r/before", std::to_string(signal)) + 1;
        WatchRecorder recorder(client, {"/r/", etcd::prefix_range_end("/r/"), next});
        REQUIRE(eventually([&] { return recorder.created(); }));
        writer.put("/r/a", "1");
        REQUIRE(eventually([&] { return recorder.events().size() == 1; }));
        next = recorder.events().back().kv.mod_revision + 1;
        server.stop(signal);
        REQUIRE(eventually([&] { return recorder.done(); }));
        REQUIRE(recorder.end().reason == etcd::WatchEnd::closed);
        server.start();
        writer.put("/r/b", "2");
        std::vector<etcd::Event> resumed;
        client.watch(
            {"/r/", etcd::prefix_range_end("/r/"), next},
            [&](const etcd::WatchMessage& m) {
                resumed.insert(resumed.end(), m.events.begin(), m.events.end());
            },
            [&] { return !resumed.empty(); });
        REQUIRE(resumed.size() == 1);  // no gap, no duplicate
        REQUIRE(resumed[0].kv.key == "/r/b");
    }
}

TEST_CASE("etcd prefix sync: list + watch, survives an etcd restart") {
    EtcdTestServer server;
    etcd::Client writer(server.client_options());
    etcd::Client client(server.client_options());
    writer.put("/s/a", "1");
    std::mutex mutex;
    etcd::PrefixSync::Snapshot seen;
    std::vector<bool> health;
    etcd::PrefixSync sync(
        client, {"/s/", 5min, 50ms, 200ms},
        [&](const etcd::PrefixSync::Snapshot& s) {
            std::lock_guard lock(mutex);
            seen = s;
        },
        [&](bool reachable, const std::string&) {
            std::lock_guard lock(mutex);
            health.push_back(reachable);
        });
    std::atomic<bool> stop{false};
    std::thread runner([&] { sync.run(stop); });
    auto values = [&] {
        std::lock_guard lock(mutex);
        std::map<std::string, std::string> out;
        for (auto& [key, kv] : seen) {
            out[key] = kv.value;
        }
        return out;
    };
    using Map = std::map<std::string, std::string>;
    CHECK(eventually([&] { return values() == Map{{"/s/a", "1"}}; }));
    writer.put("/s/b", "2");
    writer.remove("/s/a");
    CHECK(eventually([&] { return values() == Map{{"/s/b", "2"}}; }));

    server.stop(SIGKILL);
    std::this_thread::sleep_for(300ms);
    CHECK(values() == Map{{"/s/b", "2"}});  // the last known state is kept
    server.start();
    writer.put("/s/c", "3");
    CHECK(eventually([&] { return values() == Map{{"/s/b", "2"}, {"/s/c", "3"}}; }));
    {
        std::lock_guard lock(mutex);
        CHECK(std::find(health.begin(), health.end(), false) != health.end());
        CHECK(health.back());
    }

    // A periodic or requested resync replaces the copy with a fresh list.
    int relists = sync.relists();
    sync.request_resync();
    CHECK(eventually([&] { return sync.relists() > relists; }));
    stop = true;
    runner.join();
}

TEST_CASE("etcd client over TLS with client certificates") {
    EtcdTestServer server(/*tls=*/true);
    REQUIRE(server.endpoint().rfind("https://", 0) == 0);
    etcd::Client client(server.client_options());
    client.put("/tls", "secret");
    REQUIRE(client.get("/tls")->value == "secret");
    WatchRecorder recorder(client, {"/tls", "", 0});
    REQUIRE(eventually([&] { return recorder.created(); }));
    client.put("/tls", "again");
    REQUIRE(eventually([&] { return recorder.events().size() == 1; }));

    auto no_cert = server.client_options();
    no_cert.cert_file.clear();
    no_cert.key_file.clear();
    etcd::Client anonymous(no_cert);
    REQUIRE_THROWS_AS(anonymous.get("/tls"), etcd::TransportError);
    auto no_ca = server.client_options();
    no_ca.ca_file.clear();
    etcd::Client untrusting(no_ca);
    REQUIRE_THROWS_AS(untrusting.get("/tls"), etcd::TransportError);
}

namespace {

// A prefix sync on its own thread, its copy as key -> value for the test to compare.
class SyncedCopy {
  public:
    SyncedCopy(etcd::Client& client, etcd::PrefixSyncOptions options)
        : sync_(client, std::move(options),
                [this](const etcd::PrefixSync::Snapshot& snapshot) {
                    std::lock_guard lock(mutex_);
                    values_.clear();
                    for (const auto& [key, kv] : snapshot) {
                        values_[key] = kv.value;
                    }
                }),
          runner_([this] { sync_.run(stop_); }) {}
    ~SyncedCopy() {
        stop_ = true;
        runner_.join();
    }
    std::map<std::string, std::string> values() {
        std::lock_guard lock(mutex_);
        return values_;
    }
    const etcd::PrefixSync& sync() const { return sync_; }

  private:
    std::mutex mutex_;
    std::map<std::string, std::string> values_;
    std::atomic<bool> stop_{false};
    etcd::PrefixSync sync_;
    std::thread runner_;
};

std::map<std::string, std::string> etcd_contents(etcd::Client& client, const std::string& prefix) {
    std::map<std::string, std::string> out;
    for (const auto& kv : client.list_prefix(prefix).kvs) {
        out[kv.key] = kv.value;
    }
    return out;
}

int port_of(const std::string& endpoint) {
    return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

}  // namespace

// What matters after a restart with a compaction, whichever way the stream ended (a clean
// end resumes by revision and meets the compaction; a connection error, as under ASan or
// load, re-lists by the unreachable path): no put or delete missed, the copy is etcd's.
TEST_CASE("etcd prefix sync: after a restart and a compaction the copy equals etcd") {
    EtcdTestServer server;
    etcd::Client writer(server.client_options());
    etcd::Client client(server.client_options());
    writer.put("/s/a", "1");
    writer.put("/s/b", "2");
    // A long first backoff: etcd is usually back, changed and compacted before the watch
    // resumes, so that the resume meets the compaction.
    SyncedCopy copy(client, {"/s/", 5min, 8s, 8s});
    using Map = std::map<std::string, std::string>;
    CHECK(eventually([&] { return copy.values() == Map{{"/s/a", "1"}, {"/s/b", "2"}}; }));
    server.stop(SIGTERM);
    server.start();
    writer.remove("/s/a");
    writer.put("/s/b", "4");
    auto revision = writer.put("/s/c", "3");
    writer.compact(revision);
    Map expected{{"/s/b", "4"}, {"/s/c", "3"}};
    REQUIRE(etcd_contents(writer, "/s/") == expected);
    CHECK(eventually([&] { return copy.values() == expected; }, 20s));
}

// The compaction path itself, made certain: etcd stays up, only the sync's connections
// break (a proxy in front of etcd holds the new ones), and etcd compacts past the sync's
// revision before its resumed watch reaches etcd, which then cancels it as compacted.
TEST_CASE("etcd prefix sync: re-lists when its resume revision was compacted") {
    EtcdTestServer server;
    test::TcpHoldProxy proxy(port_of(server.endpoint()));
    etcd::Client writer(server.client_options());
    auto through_proxy = server.client_options();
    through_proxy.endpoints = {proxy.endpoint()};
    etcd::Client client(through_proxy);
    writer.put("/s/a", "1");
    SyncedCopy copy(client, {"/s/", 5min, 50ms, 200ms});
    using Map = std::map<std::string, std::string>;
    CHECK(eventually([&] { return copy.values() == Map{{"/s/a", "1"}}; }));
    writer.put("/s/b", "2");  // seen through the watch: its stream is up before the cut
    CHECK(eventually([&] { return copy.values() == Map{{"/s/a", "1"}, {"/s/b", "2"}}; }));
    proxy.cut_and_hold();
    writer.remove("/s/a");
    auto revision = writer.put("/s/c", "3");
    writer.compact(revision);
    proxy.release();
    CHECK(eventually([&] { return copy.values() == Map{{"/s/b", "2"}, {"/s/c", "3"}}; }));
    CHECK(copy.sync().compactions() == 1);
}

// [serial]: three members with a 100 ms election timeout; a member starved of CPU that long
// on a busy machine starts an election the test did not cause.
TEST_CASE("etcd cluster: unary calls and a prefix sync fail over when a member is killed",
          "[serial]") {
    test::EtcdTestCluster cluster;
    etcd::Client writer(cluster.client_options());
    etcd::Client client(cluster.client_options());
    std::mutex mutex;
    std::set<std::string> keys;
    etcd::PrefixSync sync(client, {"/m/", 5min, 50ms, 200ms},
                          [&](const etcd::PrefixSync::Snapshot& s) {
                              std::lock_guard lock(mutex);
                              keys.clear();
                              for (auto& [key, kv] : s) {
                                  keys.insert(key);
                              }
                          });
    std::atomic<bool> stop{false};
    std::thread runner([&] { sync.run(stop); });
    auto count = [&] {
        std::lock_guard lock(mutex);
        return keys.size();
    };
    // The first list (empty) before the put: /m/0 can then only come by the watch, so the
    // stream is up before the kill (else a watch not yet opened starts on a live member and
    // nothing reconnects: CI failed once so, "sync.reconnects() >= 1" with 0).
    REQUIRE(eventually([&] { return sync.relists() >= 1; }));
    writer.put("/m/0", "x");
    CHECK(eventually([&] { return count() == 1; }));
    REQUIRE(client.current_endpoint() == cluster.member(0).endpoint());

    cluster.member(0).stop(SIGKILL);  // the member both clients talk to
    for (int i = 1; i <= 10; ++i) {
        REQUIRE_NOTHROW(writer.put("/m/" + std::to_string(i), "x"));
    }
    CHECK(writer.current_endpoint() != cluster.member(0).endpoint());
    CHECK(eventually([&] { return count() == 11; }, 10s));  // no event lost
    CHECK(client.current_endpoint() != cluster.member(0).endpoint());
    CHECK(sync.reconnects() >= 1);
    stop = true;
    runner.join();
}

TEST_CASE("etcd prefix sync: re-lists every resync interval") {
    EtcdTestServer server;
    etcd::Client client(server.client_options());
    client.put("/p/a", "1");
    std::atomic<int> deliveries{0}, wrong_sizes{0};
    etcd::PrefixSync sync(client, {"/p/", 300ms, 50ms, 200ms},
                          [&](const etcd::PrefixSync::Snapshot& s) {
                              wrong_sizes += s.size() != 1;
                              ++deliveries;
                          });
    std::atomic<bool> stop{false};
    std::thread runner([&] { sync.run(stop); });
    // An idle watch notices the deadline at curl's next progress call, about once a second.
    std::this_thread::sleep_for(3200ms);
    stop = true;
    runner.join();
    CHECK(sync.relists() >= 3);
    CHECK(sync.relists() <= 12);
    CHECK(deliveries == sync.relists());
    CHECK(wrong_sizes == 0);
}

// [serial]: three members with a 100 ms election timeout; a member starved of CPU that long
// on a busy machine starts an election the test did not cause.
TEST_CASE("etcd cluster: a watch on a member that lost quorum ends instead of stalling",
          "[serial]") {
    test::EtcdTestCluster cluster;
    auto options = cluster.client_options();
    options.endpoints = {cluster.member(0).endpoint()};
    etcd::Client client(options);
    WatchRecorder recorder(client, {"/q", "", 0});
    REQUIRE(eventually([&] { return recorder.created(); }));
    cluster.member(1).stop(SIGKILL);
    cluster.member(2).stop(SIGKILL);
    // Grpc-Metadata-hasleader: true makes etcd end the stream with "no leader" (~4 s).
    REQUIRE(eventually([&] { return recorder.done(); }, 15s));
    REQUIRE(recorder.end().reason == etcd::WatchEnd::closed);
    REQUIRE(recorder.end().detail.find("no leader") != std::string::npos);
}
