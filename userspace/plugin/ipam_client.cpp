#include "plugin/ipam_client.h"

#include <algorithm>

#include "common/json_text.h"
#include "cni/error.h"
#include "ipam/allocator.h"
#include "ipam/delegate.h"
#include "ipam/store.h"

namespace shuttle::plugin {

namespace {

IpAddress first_address(const IpPrefix& prefix) {
    auto network = prefix.network().address;
    return IpAddress::from_integer(network.family, network.to_integer() + 1);
}

void validate_delegated(const Network& net, const cni::Result& result) {
    if (result.ips.empty()) {
        throw cni::Error(cni::kInvalidConfig, "invalid network config: ipam",
                         "IPAM plugin " + net.ipam_type + " returned no addresses");
    }
    for (const auto& ip : result.ips) {
        const auto& node_subnet = ip.address.address.is_v4() ? net.node_subnet : net.node_subnet6;
        if (net.subnet_env && !(node_subnet && node_subnet->contains(ip.address.address))) {
            throw cni::Error(cni::kInvalidConfig, "invalid network config: ipam",
                             "IPAM plugin " + net.ipam_type + " returned " + ip.address.str() +
                                 ", outside the node subnet " +
                                 (node_subnet ? node_subnet->str() : "(none of its family)"));
        }
    }
}

std::vector<IpAddress> requested_ips(const Network& net, const cni::Environment& env) {
    auto ips = net.conf.requested_ips;
    ips.insert(ips.end(), env.args.ips.begin(), env.args.ips.end());
    return ips;
}

}  // namespace

std::string ipam_delegate_path(const Network& net, const std::string& cni_path) {
    if (net.builtin_ipam)
        return "";
    return ipam::find_plugin(net.ipam_type, cni_path);
}

cni::Result ipam_add(const Network& net, const cni::Environment& env, Rollback& rollback) {
    cni::Result result;
    if (net.builtin_ipam) {
        ipam::Store store(net.ipam.data_dir, net.conf.name);
        result =
            ipam::allocate(store, net.ipam, env.container_id, env.ifname, requested_ips(net, env));
        rollback.add([store, id = env.container_id, ifname = env.ifname]() mutable {
            ipam::release(store, id, ifname);
        });
    } else {
        auto path = ipam_delegate_path(net, env.path);
        auto config = dump_json(net.effective_config);
        auto output = ipam::exec_plugin(path, "ADD", config);
        rollback.add([path, config] { ipam::exec_plugin(path, "DEL", config); });
        try {
            result = cni::parse_result(parse_json(output), "ipam result");
        } catch (const nlohmann::json::exception& e) {
            throw cni::Error(cni::kDecodeFailure, "cannot decode the IPAM plugin's result",
                             e.what());
        }
        validate_delegated(net, result);
    }
    for (auto& ip : result.ips) {
        if (!ip.gateway)
            ip.gateway = first_address(ip.address);
        ip.interface.reset();
    }
    return result;
}

void ipam_del(const Network& net, const std::string& cni_path, const std::string& container_id,
              const std::string& ifname, const nlohmann::json& delegate_config) {
    if (net.builtin_ipam) {
        ipam::Store store(net.ipam.data_dir, net.conf.name);
        ipam::release(store, container_id, ifname);
        return;
    }
    const auto& config = delegate_config.is_null() ? net.effective_config : delegate_config;
    std::string type = net.ipam_type;
    if (config.contains("ipam") && config["ipam"].is_object()) {
        type = config["ipam"].value("type", type);
    }
    auto path = ipam::find_plugin(type, cni_path);
    ipam::exec_plugin(path, "DEL", dump_json(config),
                      {{"CNI_CONTAINERID", container_id}, {"CNI_IFNAME", ifname}});
}

std::vector<IpAddress> ipam_reserved(const Network& net, const std::string& container_id,
                                     const std::string& ifname) {
    if (!net.builtin_ipam)
        return {};
    return ipam::Store(net.ipam.data_dir, net.conf.name).get_by_id(container_id, ifname);
}

std::vector<std::string> ipam_check(const Network& net, const cni::Environment& env,
                                    const std::vector<IpPrefix>& addresses) {
    std::vector<std::string> drift;
    if (net.builtin_ipam) {
        ipam::Store store(net.ipam.data_dir, net.conf.name);
        auto held = store.get_by_id(env.container_id, env.ifname);
        for (const auto& want : addresses) {
            if (std::find(held.begin(), held.end(), want.address) == held.end()) {
                drift.push_back("no IPAM reservation of " + want.address.str() + " for " +
                                env.container_id + "/" + env.ifname);
            }
        }
        return drift;
    }
    try {
        ipam::exec_plugin(ipam_delegate_path(net, env.path), "CHECK",
                          dump_json(net.effective_config));
    } catch (const cni::Error& e) {
        drift.push_back("IPAM plugin " + net.ipam_type + ": " + e.what());
    }
    return drift;
}

}  // namespace shuttle::plugin
