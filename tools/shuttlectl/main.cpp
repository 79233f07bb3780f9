#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <system_error>

#include "common/json_text.h"
#include "agent_commands.h"
#include "agent_health.h"
#include "datapath/datapath.h"
#include "datapath/inspect.h"
#include "datapath/monitor.h"
#include "netlink/socket.h"
#include "overlay/vxlan_ipv6.h"
#include "shuttle/version.h"

namespace {

// IPv6 across nodes rides on shuttle.<VNI> by routes (overlay/vxlan_ipv6.h), not in the
// pinned maps: read from the device. null when no device carries IPv6.
nlohmann::json ipv6_overlay_json() {
    try {
        shuttle::netlink::Socket nl;
        auto status = shuttle::overlay::ipv6_overlay_status(nl);
        if (!status) {
            return nullptr;
        }
        nlohmann::json routes = nlohmann::json::array();
        for (const auto& r : status->routes) {
            routes.push_back(r.str());
        }
        return {{"ifname", status->ifname}, {"address", status->address.str()}, {"routes", routes}};
    } catch (const std::exception& e) {
        return {{"error", e.what()}};
    }
}

std::string ipv6_overlay_text(const nlohmann::json& o) {
    if (!o.is_object()) {
        return "";
    }
    if (o.contains("error")) {
        return "overlay6  unknown: " + o["error"].get<std::string>() + "\n";
    }
    return "overlay6  " + o["ifname"].get<std::string>() + ": " + o["address"].get<std::string>() +
           ", " + std::to_string(o["routes"].size()) + " IPv6 route(s)\n";
}

namespace dp = shuttle::datapath;

const char* const kUsage =
    "usage: shuttlectl [--bpffs-root DIR] [--json] COMMAND\n"
    "       shuttlectl --help | --version\n"
    "\n"
    "Reads the node's pinned shuttle datapath (needs root).\n"
    "\n"
    "commands:\n"
    "  endpoints   pods on this node: IP, pod name, host veth, MACs\n"
    "  stats       packet counters by verdict and reason (non-zero only)\n"
    "  config      the node config the programs read\n"
    "  status      pins, program build, map fill levels, shuttled's health, and what is\n"
    "              attached to each veth and the VXLAN device (TCX or tc)\n"
    "  routes      other nodes' subnets: underlay IP, VTEP MAC, VNI (the routes map)\n"
    "  routes6     other nodes' IPv6 subnets: their and our PublicIPv6, VTEP MAC, VNI\n"
    "              (the routes6 map: from_pod's IPv6 path through the VXLAN device)\n"
    "  peers6      other nodes' PublicIPv6 and IPv6 subnet (the peers6 map: from_overlay's\n"
    "              IPv6 tunnel check)\n"
    "  monitor     drop events as they happen, with their reason and the pods' names\n"
    "              (Ctrl-C ends); --trace adds sampled forwarded packets\n"
    "  uninstall   remove shuttle's datapath from the node (see shuttlectl uninstall --help)\n"
    "  nodes       the leases in etcd and whether this node routes to them\n"
    "\n"
    "options:\n"
    "  --bpffs-root DIR   pin root (default /sys/fs/bpf/shuttle)\n"
    "  --json             machine-readable output (monitor: one JSON object per line)\n"
    "  --count N          monitor: stop after N events\n"
    "  --timeout MS       monitor: stop when no event came for MS milliseconds\n"
    "  --trace            monitor: also forwarded packets (on while shuttlectl runs)\n"
    "  --sample N         monitor --trace: 1 in N forwarded packets (default 1: all)\n"
    "  --healthz-addr A   status: shuttled's health endpoint (default 127.0.0.1:9465)\n";

struct Args {
    std::string command;
    std::string bpffs_root = dp::Options{}.bpffs_root;
    bool json = false;
    int count = 0;
    int timeout_ms = -1;
    bool trace = false;
    int sample = 1;
    std::string healthz_addr = "127.0.0.1:9465";
};

volatile std::sig_atomic_t stop_requested = 0;

void request_stop(int) {
    stop_requested = 1;
}

// Ctrl-C and SIGTERM end monitor's loop, so it clears the trace flag on its way out.
void stop_on_signals() {
    struct sigaction sa {};
    sa.sa_handler = request_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

int usage_error(const std::string& what) {
    std::fprintf(stderr, "shuttlectl: %s\n\n%s", what.c_str(), kUsage);
    return 2;
}

int run(const Args& args) {
    dp::Node node = dp::Node::open_existing({args.bpffs_root, dp::AttachMode::Auto});
    if (args.command == "monitor") {
        stop_on_signals();
        dp::MonitorOptions options;
        options.count = args.count;
        options.timeout_ms = args.timeout_ms;
        options.json = args.json;
        options.trace = args.trace;
        options.sample = static_cast<uint32_t>(args.sample);
        options.stop = &stop_requested;
        dp::monitor_events(node, options, stdout);
        return 0;
    }
    nlohmann::json out;
    std::string text;
    if (args.command == "endpoints") {
        out = dp::endpoints_json(node);
        text = args.json ? "" : dp::endpoints_table(out);
    } else if (args.command == "stats") {
        out = dp::stats_json(node);
        text = args.json ? "" : dp::stats_table(out);
    } else if (args.command == "routes") {
        out = dp::routes_json(node);
        text = args.json ? "" : dp::routes_table(out);
    } else if (args.command == "routes6") {
        out = dp::routes6_json(node);
        text = args.json ? "" : dp::routes6_table(out);
    } else if (args.command == "peers6") {
        out = dp::peers6_json(node);
        text = args.json ? "" : dp::peers6_table(out);
    } else if (args.command == "config") {
        out = dp::config_json(node);
        text = args.json ? "" : dp::config_table(out);
    } else {
        out = dp::status_json(node);
        out["agent"] = agent_health(args.healthz_addr);
        out["overlay_ipv6"] = ipv6_overlay_json();
        text = args.json ? ""
                         : "agent  " + agent_health_text(out["agent"]) + "\n" +
                               ipv6_overlay_text(out["overlay_ipv6"]) + dp::status_table(out);
    }
    std::cout << (args.json ? shuttle::dump_json(out, 2) + "\n" : text);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (auto rc = run_agent_command(argc, argv)) {
        return *rc;
    }
    Args args;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--version") {
            std::printf("shuttlectl %s\n", shuttle::kVersion);
            return 0;
        }
        if (arg == "--help" || arg == "-h") {
            std::printf("%s", kUsage);
            return 0;
        }
        if (arg == "--json") {
            args.json = true;
        } else if (arg == "--bpffs-root") {
            if (++i == argc) {
                return usage_error("--bpffs-root needs a directory");
            }
            args.bpffs_root = argv[i];
        } else if (arg == "--trace") {
            args.trace = true;
        } else if (arg == "--healthz-addr") {
            if (++i == argc) {
                return usage_error("--healthz-addr needs host:port");
            }
            args.healthz_addr = argv[i];
        } else if (arg == "--sample") {
            if (++i == argc || std::atoi(argv[i]) < 1) {
                return usage_error("--sample needs a number >= 1");
            }
            args.sample = std::atoi(argv[i]);
        } else if (arg == "--count" || arg == "--timeout") {
            if (++i == argc) {
                return usage_error(arg + " needs a number");
            }
            int value = std::atoi(argv[i]);
            (arg == "--count" ? args.count : args.timeout_ms) = value;
        } else if (arg.rfind("--bpffs-root=", 0) == 0) {
            args.bpffs_root = arg.substr(std::strlen("--bpffs-root="));
        } else if (!arg.empty() && arg[0] == '-') {
            return usage_error("unknown option " + arg);
        } else if (args.command.empty()) {
            args.command = arg;
        } else {
            return usage_error("unexpected argument " + arg);
        }
    }
    if (args.command != "endpoints" && args.command != "stats" && args.command != "config" &&
        args.command != "status" && args.command != "monitor" && args.command != "routes" &&
        args.command != "routes6" && args.command != "peers6") {
        return usage_error(args.command.empty() ? "missing command"
                                                : "unknown command " + args.command);
    }
    try {
        return run(args);
    } catch (const std::system_error& e) {
        if (e.code().value() == EPERM || e.code().value() == EACCES) {
            std::fprintf(stderr,
                         "shuttlectl: %s\nshuttlectl: reading pinned BPF maps needs root "
                         "(CAP_BPF and CAP_SYS_ADMIN)\n",
                         e.what());
        } else {
            std::fprintf(stderr, "shuttlectl: %s\n", e.what());
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "shuttlectl: %s\n", e.what());
    }
    return 1;
}
