#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/flags.h"
#include "agent/node_datapath.h"

using namespace shuttle::agent;

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

TEST_CASE("agent conflist: shuttled writes matches the shipped one", "[agent]") {
    auto conflist =
        nlohmann::json::parse(cni_conflist_text("/run/flannel/subnet.env", "/sys/fs/bpf/shuttle"));
    std::ifstream shipped(std::string(SHUTTLE_SOURCE_DIR) + "/tools/install/10-shuttle.conflist");
    REQUIRE(shipped);
    REQUIRE(conflist == nlohmann::json::parse(shipped));
}

TEST_CASE("agent conflist: a non-default subnet file and bpffs root", "[agent]") {
    auto conflist =
        nlohmann::json::parse(cni_conflist_text("/tmp/x/subnet.env", "/sys/fs/bpf/other"));
    CHECK(conflist["name"] == "cbr0");
    CHECK(conflist["plugins"][0]["type"] == "shuttle");
    CHECK(conflist["plugins"][0]["subnetFile"] == "/tmp/x/subnet.env");
    CHECK(conflist["plugins"][0]["bpffsRoot"] == "/sys/fs/bpf/other");
    CHECK(conflist["plugins"][1]["type"] == "portmap");
}

TEST_CASE("agent conflist: write_file_if_different writes only a changed text, creating folders",
          "[agent]") {
    auto dir =
        std::filesystem::temp_directory_path() / ("shuttle-conflist-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    auto path = (dir / "net.d" / "10-shuttle.conflist").string();
    CHECK(write_file_if_different(path, "one\n"));
    CHECK(read_all(path) == "one\n");
    CHECK_FALSE(write_file_if_different(path, "one\n"));
    CHECK(write_file_if_different(path, "two\n"));
    CHECK(read_all(path) == "two\n");
    CHECK(std::filesystem::perms::others_read ==
          (std::filesystem::status(path).permissions() & std::filesystem::perms::others_read));
    size_t files = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir / "net.d")) {
        ++files;
    }
    CHECK(files == 1);  // no temporary file left behind
    std::filesystem::remove_all(dir);
}

TEST_CASE("agent overlay mode: --overlay direct|device, default direct", "[agent]") {
    const char* argv[] = {"shuttled"};
    REQUIRE(parse_flags(1, const_cast<char**>(argv)).at("overlay") == "direct");
    REQUIRE(parse_overlay_mode("direct") == shuttle::datapath::OverlayMode::direct);
    REQUIRE(parse_overlay_mode("device") == shuttle::datapath::OverlayMode::device);
    REQUIRE(to_string(shuttle::datapath::OverlayMode::device) == "device");
    REQUIRE_THROWS_WITH(parse_overlay_mode("Direct"),
                        "--overlay: \"Direct\" is neither direct nor device");
    REQUIRE(usage().find("SHUTTLED_OVERLAY") != std::string::npos);
}
