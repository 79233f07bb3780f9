#include "common/json_text.h"
#include "agent_commands.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/lease_value.h"
#include "agent/uninstall.h"
#include "datapath/datapath.h"
#include "etcd/client.h"

namespace {

namespace dp = shuttle::datapath;

const char* const kAgentUsage =
    "usage: shuttlectl [--bpffs-root DIR] uninstall\n"
    "       shuttlectl [--json] [--bpffs-root DIR] [--etcd-endpoints URLS] [--etcd-prefix P]\n"
    "                  [--etcd-cafile F --etcd-certfile F --etcd-keyfile F] nodes\n"
    "\n"
    "  uninstall  detach and unpin the datapath, delete the VXLAN device shuttle.<VNI> and the\n"
    "             nftables table ip shuttle; keeps the etcd lease, subnet.env and the IP store\n"
    "             so that flanneld can take the node back (stop shuttled first)\n"
    "  nodes      every lease in etcd (subnet, PublicIP, VtepMAC, VNI) and whether this node's\n"
    "             routes map holds it (yes, no, stale, this node; \"no lease\": a route\n"
    "             without a lease); the etcd flags default to SHUTTLED_ETCD_* or flannel's\n";

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value ? value : fallback;
}

struct AgentArgs {
    std::string command;
    bool json = false;
    bool help = false;
    std::map<std::string, std::string> values = {
        {"bpffs-root", dp::Options{}.bpffs_root},
        {"etcd-endpoints",
         env_or("SHUTTLED_ETCD_ENDPOINTS", "http://127.0.0.1:4001,http://127.0.0.1:2379")},
        {"etcd-prefix", env_or("SHUTTLED_ETCD_PREFIX", "/coreos.com/network")},
        {"etcd-cafile", env_or("SHUTTLED_ETCD_CAFILE", "")},
        {"etcd-certfile", env_or("SHUTTLED_ETCD_CERTFILE", "")},
        {"etcd-keyfile", env_or("SHUTTLED_ETCD_KEYFILE", "")},
    };
};

// nullopt: not one of ours; else the parsed arguments or a usage error (exit code 2).
std::optional<AgentArgs> parse(int argc, char** argv, std::string& error) {
    AgentArgs args;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--json" || arg == "--help" || arg == "-h") {
            (arg == "--json" ? args.json : args.help) = true;
            continue;
        }
        if (arg.rfind("--", 0) == 0) {
            auto eq = arg.find('=');
            auto name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
            if (!args.values.count(name)) {
                error = "unknown option " + arg;
                continue;
            }
            if (eq != std::string::npos) {
                args.values[name] = arg.substr(eq + 1);
            } else if (i + 1 < argc) {
                args.values[name] = argv[++i];
            } else {
                error = arg + " needs a value";
            }
            continue;
        }
        if (args.command.empty()) {
            args.command = arg;
        } else {
            error = "unexpected argument " + arg;
        }
    }
    if (args.command != "uninstall" && args.command != "nodes") {
        return std::nullopt;
    }
    return args;
}

int uninstall(const AgentArgs& args) {
    auto done = shuttle::agent::uninstall_node(args.values.at("bpffs-root"));
    for (const auto& line : done) {
        std::printf("%s\n", line.c_str());
    }
    std::printf("kept: the etcd lease, subnet.env and the IP store (flanneld can take over)\n");
    return 0;
}

std::map<shuttle::IpPrefix, dp::RemoteRoute> routes_map(const std::string& bpffs_root,
                                                        std::optional<shuttle::IpPrefix>& own) {
    std::map<shuttle::IpPrefix, dp::RemoteRoute> by_subnet;
    try {
        auto node = dp::Node::open_existing({bpffs_root, dp::AttachMode::Auto});
        for (const auto& route : node.routes()) {
            by_subnet[route.subnet] = route;
        }
        auto config = node.config();
        if (config.node_subnet.length) {
            own = config.node_subnet;
        }
    } catch (const std::exception&) {
        // No datapath on this node: the column says "-".
    }
    return by_subnet;
}

int nodes(const AgentArgs& args) {
    shuttle::etcd::ClientOptions options;
    options.endpoints = shuttle::etcd::split_endpoints(args.values.at("etcd-endpoints"));
    options.ca_file = args.values.at("etcd-cafile");
    options.cert_file = args.values.at("etcd-certfile");
    options.key_file = args.values.at("etcd-keyfile");
    shuttle::etcd::Client client(options);
    auto prefix = args.values.at("etcd-prefix") + "/subnets/";
    auto listing = client.list_prefix(prefix);
    std::optional<shuttle::IpPrefix> own;
    auto routes = routes_map(args.values.at("bpffs-root"), own);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& kv : listing.kvs) {
        auto key = shuttle::agent::parse_subnet_key(kv.key.substr(prefix.size()));
        auto subnet = key ? std::optional<shuttle::IpPrefix>(key->ipv4) : std::nullopt;
        auto attrs = shuttle::agent::parse_lease_value(kv.value);
        nlohmann::json row = {{"key", kv.key}, {"subnet", subnet ? subnet->str() : ""}};
        if (attrs) {
            row["PublicIP"] = attrs->public_ip.str();
            row["BackendType"] = attrs->backend_type;
            row["VNI"] = attrs->vni;
            row["VtepMAC"] = attrs->vtep_mac ? attrs->vtep_mac->str() : "";
        }
        if (key && key->ipv6) {  // the IPv6 half of a dual-stack (or IPv6-only) lease
            row["ipv6_subnet"] = key->ipv6->str();
            row["PublicIPv6"] = attrs && attrs->public_ipv6 ? attrs->public_ipv6->str() : "";
            row["VtepMACv6"] = attrs && attrs->vtep_mac_v6 ? attrs->vtep_mac_v6->str() : "";
        }
        row["reservation"] = kv.lease == 0;
        std::string routed = "-";
        if (own && subnet && *own == *subnet) {
            routed = "this node";
        } else if (own && subnet) {
            auto it = routes.find(*subnet);
            routed = it == routes.end() ? "no"
                     : attrs && attrs->vtep_mac && it->second.vtep_mac == *attrs->vtep_mac &&
                             it->second.underlay_ip == attrs->public_ip
                         ? "yes"
                         : "stale";
        }
        row["routed"] = routed;
        out.push_back(row);
        if (subnet) {
            routes.erase(*subnet);
        }
    }
    // Routes without a lease: a node whose lease went while this shuttled was not watching.
    for (const auto& [subnet, route] : routes) {
        out.push_back({{"key", ""},
                       {"subnet", subnet.str()},
                       {"PublicIP", route.underlay_ip.str()},
                       {"BackendType", "vxlan"},
                       {"VNI", route.vni},
                       {"VtepMAC", route.vtep_mac.str()},
                       {"reservation", false},
                       {"routed", "no lease"}});
    }
    if (args.json) {
        std::cout << shuttle::dump_json(out, 2) << "\n";
        return 0;
    }
    std::printf("%-20s %-16s %-18s %-4s %-10s %s\n", "SUBNET", "PUBLIC IP", "VTEP MAC", "VNI",
                "ROUTED", "NOTE");
    for (const auto& row : out) {
        std::printf("%-20s %-16s %-18s %-4s %-10s %s\n", row["subnet"].get<std::string>().c_str(),
                    row.value("PublicIP", "?").c_str(), row.value("VtepMAC", "?").c_str(),
                    std::to_string(row.value("VNI", 0)).c_str(),
                    row["routed"].get<std::string>().c_str(),
                    row["reservation"].get<bool>()          ? "reservation (no TTL)"
                    : row["key"].get<std::string>().empty() ? "in the routes map only"
                                                            : "");
        if (row.contains("ipv6_subnet")) {
            std::printf(
                "  %-38s %-18s %-4s %-10s %s\n",
                (row["ipv6_subnet"].get<std::string>() + " " + row["PublicIPv6"].get<std::string>())
                    .c_str(),
                row["VtepMACv6"].get<std::string>().c_str(), "", "-",
                "IPv6 half (no IPv6 overlay yet)");
        }
    }
    return 0;
}

}  // namespace

std::optional<int> run_agent_command(int argc, char** argv) {
    std::string error;
    auto args = parse(argc, argv, error);
    if (!args) {
        return std::nullopt;
    }
    if (args->help) {
        std::printf("%s", kAgentUsage);
        return 0;
    }
    if (!error.empty()) {
        std::fprintf(stderr, "shuttlectl: %s\n\n%s", error.c_str(), kAgentUsage);
        return 2;
    }
    try {
        return args->command == "uninstall" ? uninstall(*args) : nodes(*args);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "shuttlectl %s: %s\n", args->command.c_str(), e.what());
        return 1;
    }
}
