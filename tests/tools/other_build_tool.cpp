// test-other-build: runs the datapath's ensure() with another build of the BPF object, as a
// newer (or older) shuttle would on this node; for the upgrade test and benchmark.
//
//   test-other-build ensure <object> <serial> <layout> [--root R] [--attach auto|tcx|tc]
//   test-other-build show   <object> <serial> <layout> [--root R]
//
// Prints one JSON object: what ensure() did (and how long it held the node), or what the pins
// hold (endpoints attached, routes, the overlay device's and the underlay's programs).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>

#include "datapath/datapath.h"
#include "other_build.h"

namespace dp = shuttle::datapath;
using nlohmann::json;

namespace {

json ensure_with(const dp::Options& options) {
    auto start = std::chrono::steady_clock::now();
    dp::Node node = dp::Node::ensure(options);
    auto took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    return {{"programs_loaded", node.programs_loaded()},
            {"maps_created", node.maps_created()},
            {"pin_dir", node.pin_dir()},
            {"pinned_serial", node.pinned_build().serial},
            {"ms", took.count()}};
}

json show(const dp::Options& options) {
    dp::Node node = dp::Node::open_existing(options);
    int attached = 0;
    auto attachments = node.attachments();
    for (const auto& a : attachments) {
        attached += a.attached ? 1 : 0;
    }
    auto overlay = node.overlay_attachment();
    auto underlay = node.underlay_attachment();
    return {{"pin_dir", node.pin_dir()},
            {"endpoints", attachments.size()},
            {"attached", attached},
            {"routes", node.routes().size()},
            {"overlay_attached", overlay ? json(overlay->attached) : json()},
            {"underlay_attached", underlay ? json(underlay->attached) : json()},
            {"pinned_serial", node.pinned_build().serial}};
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr,
                     "usage: %s ensure|show <object> <serial> <layout> [--root R] [--attach "
                     "auto|tcx|tc]\n",
                     argv[0]);
        return 2;
    }
    try {
        std::string command = argv[1];
        shuttle::test::OtherBuild other(argv[2], static_cast<uint32_t>(std::stoul(argv[3])),
                                        static_cast<uint32_t>(std::stoul(argv[4])));
        dp::Options options;
        options.build = &other.build();
        for (int i = 5; i + 1 < argc; i += 2) {
            std::string flag = argv[i];
            if (flag == "--root") {
                options.bpffs_root = argv[i + 1];
            } else if (flag == "--attach") {
                options.attach = dp::parse_attach_mode(argv[i + 1]);
            } else {
                throw std::invalid_argument("unknown flag " + flag);
            }
        }
        json out = command == "ensure" ? ensure_with(options) : show(options);
        std::printf("%s\n", out.dump().c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "test-other-build: %s\n", e.what());
        return 1;
    }
}
