#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cni/error.h"
#include "ipam/delegate.h"

#include "temp_dir.h"

using namespace shuttle;
namespace fs = std::filesystem;

namespace {

fs::path script(const fs::path& dir, const std::string& name, const std::string& body) {
    auto path = dir / name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    ::chmod(path.c_str(), 0755);
    return path;
}

}  // namespace

TEST_CASE("delegates are found along CNI_PATH") {
    testing::TempDir a("delegate"), b("delegate");
    script(b.path, "myipam", "exit 0\n");
    REQUIRE(ipam::find_plugin("myipam", a.path.string() + ":" + b.path.string()) ==
            (b.path / "myipam").string());
    try {
        ipam::find_plugin("nope", a.path.string());
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kInvalidConfig);
        REQUIRE(e.msg() == "invalid network config: ipam.type");
        REQUIRE(e.details() == "failed to find plugin \"nope\" in path [" + a.path.string() + "]");
    }
}

TEST_CASE("a delegate gets the config on stdin and CNI_COMMAND replaced, overrides apply") {
    testing::TempDir dir("delegate");
    auto plugin = script(dir.path, "echoer",
                         "printf '{\"cmd\":\"%s\",\"id\":\"%s\",\"in\":%s}' \"$CNI_COMMAND\" "
                         "\"$CNI_CONTAINERID\" \"$(cat)\"\n");
    ::setenv("CNI_COMMAND", "ADD", 1);
    ::setenv("CNI_CONTAINERID", "outer", 1);
    auto out = nlohmann::json::parse(ipam::exec_plugin(plugin, "DEL", R"({"a":1})"));
    REQUIRE(out["cmd"] == "DEL");
    REQUIRE(out["id"] == "outer");
    REQUIRE(out["in"]["a"] == 1);
    out = nlohmann::json::parse(
        ipam::exec_plugin(plugin, "DEL", "{}", {{"CNI_CONTAINERID", "other"}}));
    REQUIRE(out["id"] == "other");
    ::unsetenv("CNI_COMMAND");
    ::unsetenv("CNI_CONTAINERID");
}

TEST_CASE("a delegate's error object passes through, other failures are code 108") {
    testing::TempDir dir("delegate");
    auto failing = script(dir.path, "failing",
                          "cat >/dev/null; echo '{\"code\":7,\"msg\":\"bad\",\"details\":\"x\"}'; "
                          "exit 1\n");
    try {
        ipam::exec_plugin(failing, "ADD", "{}");
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == 7);
        REQUIRE(e.msg() == "bad");
        REQUIRE(e.details() == "x");
    }
    auto crashing = script(dir.path, "crashing", "echo boom; exit 3\n");
    try {
        ipam::exec_plugin(crashing, "ADD", std::string(200000, ' '));  // not read: no SIGPIPE
        FAIL("no error");
    } catch (const cni::Error& e) {
        REQUIRE(e.code() == cni::kDelegateFailure);
        REQUIRE(e.details() == crashing.string() + " exited with status 3: boom\n");
    }
}

TEST_CASE("VERSION tells which spec versions a delegate speaks") {
    testing::TempDir dir("delegate");
    auto plugin = script(dir.path, "old",
                         "cat >/dev/null; echo '{\"cniVersion\":\"1.0.0\",\"supportedVersions\":"
                         "[\"0.3.1\",\"1.0.0\"]}'\n");
    REQUIRE(ipam::plugin_supports(plugin, "1.0.0"));
    REQUIRE_FALSE(ipam::plugin_supports(plugin, "1.1.0"));
    REQUIRE_FALSE(ipam::plugin_supports(script(dir.path, "broken", "exit 1\n"), "1.0.0"));
}
