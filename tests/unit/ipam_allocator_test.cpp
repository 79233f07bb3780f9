#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cni/error.h"
#include "ipam/allocator.h"

#include "temp_dir.h"

using namespace shuttle;
using namespace shuttle::ipam;
namespace fs = std::filesystem;

namespace {

Config small_config(const std::string& dir, const char* start = "10.1.0.2",
                    const char* end = "10.1.0.4") {
    Config config;
    config.range_sets = {{make_range(*IpPrefix::parse("10.1.0.0/24"), start, end, "", "ipam")}};
    config.data_dir = dir;
    return config;
}

}  // namespace

TEST_CASE("allocation writes host-local's exact files") {
    testing::TempDir tmp("ipam");
    Store store(tmp.path.string(), "net1");
    auto result = allocate(store, small_config(tmp.path.string()), "ctr1", "eth0", {});
    REQUIRE(result.ips.size() == 1);
    REQUIRE(result.ips[0].address.str() == "10.1.0.2/24");
    REQUIRE(result.ips[0].gateway->str() == "10.1.0.1");
    REQUIRE(testing::read_whole_file(tmp.path / "net1" / "10.1.0.2") == "ctr1\r\neth0");
    REQUIRE(testing::read_whole_file(tmp.path / "net1" / "last_reserved_ip.0") == "10.1.0.2");
    REQUIRE(fs::exists(tmp.path / "net1" / "lock"));
    REQUIRE((fs::status(tmp.path / "net1" / "10.1.0.2").permissions() & fs::perms::all) ==
            (fs::perms::owner_read | fs::perms::owner_write));
}

TEST_CASE("round-robin after last_reserved_ip, wrapping, and exhaustion") {
    testing::TempDir tmp("ipam");
    auto config = small_config(tmp.path.string());
    Store store(tmp.path.string(), "net1");
    REQUIRE(allocate(store, config, "a", "eth0", {}).ips[0].address.address.str() == "10.1.0.2");
    REQUIRE(allocate(store, config, "b", "eth0", {}).ips[0].address.address.str() == "10.1.0.3");
    release(store, "a", "eth0");
    REQUIRE(allocate(store, config, "c", "eth0", {}).ips[0].address.address.str() == "10.1.0.4");
    REQUIRE(allocate(store, config, "d", "eth0", {}).ips[0].address.address.str() == "10.1.0.2");
    try {
        allocate(store, config, "e", "eth0", {});
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kRangeExhausted);
        REQUIRE(std::string(e.what()) ==
                "no IP addresses available in range set: 10.1.0.2-10.1.0.4");
    }
    REQUIRE(store.get_by_id("e", "eth0").empty());
}

TEST_CASE("the gateway is never handed out") {
    testing::TempDir tmp("ipam");
    auto config = small_config(tmp.path.string(), "10.1.0.1", "10.1.0.2");
    Store store(tmp.path.string(), "n");
    REQUIRE(allocate(store, config, "a", "eth0", {}).ips[0].address.address.str() == "10.1.0.2");
    REQUIRE_THROWS_AS(allocate(store, config, "b", "eth0", {}), cni::Error);
}

TEST_CASE("requested addresses, duplicates and release by container + ifname") {
    testing::TempDir tmp("ipam");
    auto config = small_config(tmp.path.string());
    Store store(tmp.path.string(), "n");
    auto ip = *IpAddress::parse("10.1.0.3");
    REQUIRE(allocate(store, config, "a", "eth0", {ip}).ips[0].address.address == ip);
    try {
        allocate(store, config, "b", "eth0", {ip});
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kAddressUnavailable);
        REQUIRE(std::string(e.what()) ==
                "requested IP address is not available: 10.1.0.3 in range set 10.1.0.2-10.1.0.4");
    }
    try {
        allocate(store, config, "a", "eth0", {});
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kDuplicateAllocation);
    }
    try {
        allocate(store, config, "c", "eth0", {*IpAddress::parse("10.9.0.1")});
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kAddressUnavailable);
        REQUIRE(e.msg() == "requested IP address is in no range set");
    }
    REQUIRE(store.get_by_id("c", "eth0").empty());                      // rolled back
    REQUIRE(allocate(store, config, "a", "net1", {}).ips.size() == 1);  // other ifname is fine
    REQUIRE(release(store, "a", "eth0") == std::vector<IpAddress>{ip});
    REQUIRE(release(store, "a", "eth0").empty());  // idempotent
    REQUIRE(store.get_by_id("a", "net1").size() == 1);
}

TEST_CASE("host-local's old format (container ID only) is released too") {
    testing::TempDir tmp("ipam");
    Store store(tmp.path.string(), "n");
    store.lock();
    std::ofstream(tmp.path / "n" / "10.1.0.9") << "oldctr";
    auto list = store.list();
    REQUIRE(list.size() == 1);
    REQUIRE(list[0].container_id == "oldctr");
    REQUIRE(release(store, "oldctr", "eth0").size() == 1);
    REQUIRE(store.list().empty());
}

TEST_CASE("parallel processes get distinct addresses through the flock") {
    testing::TempDir tmp("ipam");
    auto config = small_config(tmp.path.string(), "10.1.0.2", "10.1.0.200");
    constexpr int kChildren = 16;
    std::vector<pid_t> children;
    for (int i = 0; i < kChildren; ++i) {
        pid_t pid = ::fork();
        if (pid == 0) {
            Store store(tmp.path.string(), "n");
            for (int j = 0; j < 4; ++j) {
                allocate(store, config, "c" + std::to_string(i) + "-" + std::to_string(j), "eth0",
                         {});
            }
            ::_exit(0);
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        REQUIRE(WIFEXITED(status));
        REQUIRE(WEXITSTATUS(status) == 0);
    }
    Store store(tmp.path.string(), "n");
    auto list = store.list();
    std::set<IpAddress> distinct;
    for (const auto& r : list)
        distinct.insert(r.ip);
    REQUIRE(list.size() == kChildren * 4);
    REQUIRE(distinct.size() == kChildren * 4);
}

namespace {

Config dual_stack_config(const std::string& dir) {
    Config config;
    config.range_sets = {
        {make_range(*IpPrefix::parse("10.1.0.0/24"), "10.1.0.2", "10.1.0.3", "", "ipam")},
        {make_range(*IpPrefix::parse("fd00:10:1::/64"), "fd00:10:1:0:ffff:ffff:ffff:fffe", "", "",
                    "ipam")}};
    config.data_dir = dir;
    return config;
}

}  // namespace

TEST_CASE("dual-stack: one address per range set, host-local's IPv6 file names") {
    testing::TempDir tmp("ipam");
    Store store(tmp.path.string(), "net1");
    auto config = dual_stack_config(tmp.path.string());
    auto result = allocate(store, config, "ctr1", "eth0", {});
    REQUIRE(result.ips.size() == 2);
    REQUIRE(result.ips[0].address.str() == "10.1.0.2/24");
    REQUIRE(result.ips[1].address.str() == "fd00:10:1:0:ffff:ffff:ffff:fffe/64");
    REQUIRE(result.ips[1].gateway->str() == "fd00:10:1::1");
    auto dir = tmp.path / "net1";
    REQUIRE(testing::read_whole_file(dir / "fd00:10:1:0:ffff:ffff:ffff:fffe") == "ctr1\r\neth0");
    REQUIRE(testing::read_whole_file(dir / "last_reserved_ip.0") == "10.1.0.2");
    REQUIRE(testing::read_whole_file(dir / "last_reserved_ip.1") ==
            "fd00:10:1:0:ffff:ffff:ffff:fffe");
    // the range ends at the prefix's last address (no broadcast in IPv6), then wraps
    REQUIRE(allocate(store, config, "ctr2", "eth0", {}).ips[1].address.address.str() ==
            "fd00:10:1:0:ffff:ffff:ffff:ffff");
    try {
        allocate(store, config, "ctr3", "eth0", {});
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kRangeExhausted);  // the IPv4 set is full
    }
    REQUIRE(store.get_by_id("ctr3", "eth0").empty());
    REQUIRE(release(store, "ctr1", "eth0").size() == 2);
    REQUIRE_FALSE(fs::exists(dir / "fd00:10:1:0:ffff:ffff:ffff:fffe"));
}

TEST_CASE("IPv6: requested addresses, exhaustion, all-or-nothing") {
    testing::TempDir tmp("ipam");
    Store store(tmp.path.string(), "n");
    Config config;
    config.range_sets = {
        {make_range(*IpPrefix::parse("10.1.0.0/24"), "10.1.0.2", "10.1.0.9", "", "ipam")},
        {make_range(*IpPrefix::parse("fd00::/126"), "", "", "", "ipam")}};
    config.data_dir = tmp.path.string();
    auto wanted = *IpAddress::parse("fd00::3");
    auto result = allocate(store, config, "a", "eth0", {wanted});
    REQUIRE(result.ips[1].address.address == wanted);
    REQUIRE(allocate(store, config, "b", "eth0", {}).ips[1].address.address.str() == "fd00::2");
    try {
        allocate(store, config, "c", "eth0", {});
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kRangeExhausted);
        REQUIRE(std::string(e.what()) == "no IP addresses available in range set: fd00::1-fd00::3");
    }
    REQUIRE(store.get_by_id("c", "eth0").empty());  // the IPv4 address went back too
    try {
        allocate(store, config, "d", "eth0", {*IpAddress::parse("fd00::1")});
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kAddressUnavailable);
        REQUIRE(e.msg() == "requested IP address is the gateway");
    }
    release(store, "b", "eth0");
    try {
        allocate(store, config, "e", "eth0", {*IpAddress::parse("fd01::5")});
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kAddressUnavailable);
        REQUIRE(e.msg() == "requested IP address is in no range set");
        REQUIRE(e.details() == "fd01::5");
    }
    REQUIRE(store.get_by_id("e", "eth0").empty());
}
