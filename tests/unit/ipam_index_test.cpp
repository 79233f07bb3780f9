// The store's attachment index (shuttle-index) and the round robin over large and
// several ranges, without listing them; no kernel.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cni/error.h"
#include "ipam/allocator.h"

#include "temp_dir.h"

using namespace shuttle;
using namespace shuttle::ipam;
namespace fs = std::filesystem;

namespace {

Config config_of(const std::string& dir, std::vector<Range> ranges) {
    Config config;
    config.range_sets = {std::move(ranges)};
    config.data_dir = dir;
    return config;
}

Range range(const char* subnet, const char* start = "", const char* end = "") {
    return make_range(*IpPrefix::parse(subnet), start, end, "", "ipam");
}

std::string first_ip(const cni::Result& r) {
    return r.ips.at(0).address.address.str();
}

}  // namespace

TEST_CASE("each reservation is indexed by attachment, in a file host-local ignores") {
    testing::TempDir tmp("ipam-index");
    auto config = config_of(tmp.path.string(), {range("10.1.0.0/24", "10.1.0.2", "10.1.0.9")});
    Store store(tmp.path.string(), "n");
    allocate(store, config, "a", "eth0", {});
    allocate(store, config, "b", "net1", {});
    REQUIRE(testing::read_whole_file(tmp.path / "n" / "shuttle-index") ==
            "a\teth0\t10.1.0.2\nb\tnet1\t10.1.0.3\n");
    REQUIRE(store.list().size() == 2);  // the index is no reservation
    REQUIRE(store.get_by_id("b", "net1") == std::vector<IpAddress>{*IpAddress::parse("10.1.0.3")});
    REQUIRE(store.get_by_id("b", "eth0").empty());
}

TEST_CASE("index lines whose reservation is gone or reused count for nothing") {
    testing::TempDir tmp("ipam-index");
    auto config = config_of(tmp.path.string(), {range("10.1.0.0/24", "10.1.0.2", "10.1.0.3")});
    Store store(tmp.path.string(), "n");
    allocate(store, config, "a", "eth0", {});  // 10.1.0.2
    // host-local's DEL removes the reservation and leaves the index alone
    fs::remove(tmp.path / "n" / "10.1.0.2");
    REQUIRE(store.get_by_id("a", "eth0").empty());
    REQUIRE(first_ip(allocate(store, config, "a", "eth0", {})) == "10.1.0.3");  // no duplicate
    std::ofstream(tmp.path / "n" / "10.1.0.2") << "z\r\neth0";  // reused by someone else
    REQUIRE(store.get_by_id("a", "eth0") == std::vector<IpAddress>{*IpAddress::parse("10.1.0.3")});
    REQUIRE(release(store, "a", "eth0") == std::vector<IpAddress>{*IpAddress::parse("10.1.0.3")});
    REQUIRE(testing::read_whole_file(tmp.path / "n" / "10.1.0.2") == "z\r\neth0");  // not touched
}

TEST_CASE("reservations from before the index are indexed by the first allocation") {
    testing::TempDir tmp("ipam-index");
    auto config = config_of(tmp.path.string(), {range("10.1.0.0/24", "10.1.0.2", "10.1.0.9")});
    Store store(tmp.path.string(), "n");
    store.lock();
    std::ofstream(tmp.path / "n" / "10.1.0.5") << "old\r\neth0";  // host-local or an older shuttle
    REQUIRE(store.get_by_id("old", "eth0").size() == 1);          // no index yet: every file
    allocate(store, config, "new", "eth0", {});
    REQUIRE(
        testing::read_whole_file(tmp.path / "n" / "shuttle-index").find("old\teth0\t10.1.0.5\n") !=
        std::string::npos);
    try {
        allocate(store, config, "old", "eth0", {});
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kDuplicateAllocation);
    }
}

TEST_CASE("a release the index does not know reads every reservation") {
    testing::TempDir tmp("ipam-index");
    auto config = config_of(tmp.path.string(), {range("10.1.0.0/24", "10.1.0.2", "10.1.0.9")});
    Store store(tmp.path.string(), "n");
    allocate(store, config, "a", "eth0", {});
    std::ofstream(tmp.path / "n" / "10.1.0.7") << "hostlocal\r\neth0";  // after the index
    REQUIRE(release(store, "hostlocal", "eth0") ==
            std::vector<IpAddress>{*IpAddress::parse("10.1.0.7")});
}

TEST_CASE("a grown index is rewritten with only the live reservations") {
    testing::TempDir tmp("ipam-index");
    auto config = config_of(tmp.path.string(), {range("10.1.0.0/16")});
    Store store(tmp.path.string(), "n");
    for (int i = 0; i < 1500; ++i) {  // ~1,500 lines of ~40 bytes pass the 64 KiB mark
        auto id = "container-with-a-long-id-" + std::to_string(i);
        allocate(store, config, id, "eth0", {});
        if (i != 1499)
            release(store, id, "eth0");
    }
    auto size = fs::file_size(tmp.path / "n" / "shuttle-index");
    REQUIRE(size < 64 * 1024);
    REQUIRE(store.get_by_id("container-with-a-long-id-1499", "eth0").size() == 1);
}

TEST_CASE("round robin over a /16 starts after last_reserved_ip and wraps") {
    testing::TempDir tmp("ipam-index");
    auto config = config_of(tmp.path.string(), {range("10.2.0.0/16")});
    Store store(tmp.path.string(), "n");
    store.lock();
    std::ofstream(tmp.path / "n" / "last_reserved_ip.0") << "10.2.255.253";
    REQUIRE(first_ip(allocate(store, config, "a", "eth0", {})) == "10.2.255.254");
    REQUIRE(first_ip(allocate(store, config, "b", "eth0", {})) == "10.2.0.2");  // .1 is the gateway
}

TEST_CASE(
    "round robin over several ranges: the rest of the last one's range, the others, then its "
    "start") {
    testing::TempDir tmp("ipam-index");
    auto config = config_of(tmp.path.string(), {range("10.3.1.0/24", "10.3.1.10", "10.3.1.11"),
                                                range("10.3.2.0/24", "10.3.2.10", "10.3.2.10")});
    Store store(tmp.path.string(), "n");
    store.lock();
    std::ofstream(tmp.path / "n" / "last_reserved_ip.0") << "10.3.1.10";
    REQUIRE(first_ip(allocate(store, config, "a", "eth0", {})) == "10.3.1.11");
    REQUIRE(first_ip(allocate(store, config, "b", "eth0", {})) == "10.3.2.10");
    REQUIRE(first_ip(allocate(store, config, "c", "eth0", {})) == "10.3.1.10");
    REQUIRE_THROWS_AS(allocate(store, config, "d", "eth0", {}), cni::Error);
}
