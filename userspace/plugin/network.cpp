#include "plugin/network.h"

#include <filesystem>

#include "cni/error.h"

namespace shuttle::plugin {

using nlohmann::json;

namespace {

std::optional<flannel::SubnetEnv> read_subnet_file(const std::string& path, SubnetFileNeed need) {
    std::optional<flannel::SubnetEnv> env;
    try {
        env = flannel::read_subnet_env(path);
    } catch (const std::invalid_argument& e) {
        throw cni::Error(cni::kInvalidConfig, "invalid subnet file " + path, e.what());
    } catch (const std::exception& e) {
        throw cni::Error(cni::kIoFailure, "cannot read subnet file " + path, e.what());
    }
    if (!env && need == SubnetFileNeed::Required) {
        throw cni::Error(cni::kTryAgainLater, "subnet file " + path + " does not exist yet",
                         "the node agent (shuttled or flanneld) has not written it; try again");
    }
    return env;
}

// flannel's getDelegateIPAM: type defaults to host-local, ranges = [[FLANNEL_SUBNET],
// [FLANNEL_IPV6_SUBNET]] (those present), routes = the configured ones + FLANNEL_NETWORK
// + FLANNEL_IPV6_NETWORK.
json ipam_from_subnet_env(json ipam, const flannel::SubnetEnv& env) {
    if (!ipam.is_object())
        ipam = json::object();
    if (!ipam.contains("type"))
        ipam["type"] = "host-local";
    for (auto key : {"subnet", "rangeStart", "rangeEnd", "gateway"})
        ipam.erase(key);
    json ranges = json::array();
    json routes =
        ipam.contains("routes") && ipam["routes"].is_array() ? ipam["routes"] : json::array();
    if (env.has_ipv4()) {
        ranges.push_back(json::array({{{"subnet", env.subnet_network().str()}}}));
        routes.push_back({{"dst", env.network.str()}});
    }
    if (auto subnet6 = env.ipv6_subnet_network()) {
        ranges.push_back(json::array({{{"subnet", subnet6->str()}}}));
        routes.push_back({{"dst", env.ipv6_network->network().str()}});
    }
    ipam["ranges"] = ranges;
    ipam["routes"] = routes;
    return ipam;
}

}  // namespace

std::string state_dir_for(const std::string& ipam_data_dir, const std::string& network) {
    auto parent = std::filesystem::path(ipam_data_dir).parent_path();
    return (parent / "shuttle" / network).string();
}

Network load_network(const cni::NetConf& conf, SubnetFileNeed need) {
    Network net;
    net.conf = conf;
    net.effective_config = conf.raw;
    json ipam = conf.ipam;
    if (!conf.subnet_file.empty()) {
        net.subnet_env = read_subnet_file(conf.subnet_file, need);
    }
    if (net.subnet_env) {
        ipam = ipam_from_subnet_env(ipam, *net.subnet_env);
        if (net.subnet_env->has_ipv4())
            net.node_subnet = net.subnet_env->subnet_network();
        net.node_subnet6 = net.subnet_env->ipv6_subnet_network();
        net.mtu = conf.mtu.value_or(net.subnet_env->mtu);
        bool ip_masq = conf.ip_masq_set ? conf.ip_masq : !net.subnet_env->ip_masq;
        net.masquerade = ip_masq && !net.subnet_env->ip_masq;
    } else {
        net.mtu = conf.mtu.value_or(0);
        net.masquerade = conf.ip_masq;
    }
    if (ipam.is_object()) {
        net.effective_config["ipam"] = ipam;
    }
    net.ipam_type = ipam.is_object() ? ipam.value("type", std::string("host-local")) : "host-local";
    net.builtin_ipam = net.ipam_type == "host-local";
    std::string data_dir = ipam::kDefaultDataDir;
    if (ipam.is_object() && ipam.contains("dataDir") && ipam["dataDir"].is_string()) {
        data_dir = ipam["dataDir"].get<std::string>();
    }
    net.ipam.data_dir = data_dir;
    if (net.builtin_ipam) {
        try {
            net.ipam = ipam::parse_config(ipam);
        } catch (const cni::Error&) {
            // DEL and GC release by container ID and need only the store's folder.
            if (need == SubnetFileNeed::Required)
                throw;
        }
    }
    net.state_dir = conf.data_dir.empty() ? state_dir_for(data_dir, conf.name)
                                          : conf.data_dir + "/" + conf.name;
    return net;
}

}  // namespace shuttle::plugin
