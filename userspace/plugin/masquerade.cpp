#include "plugin/masquerade.h"

#include "cni/error.h"
#include "masquerade/masquerade.h"

namespace shuttle::plugin {

namespace {

masquerade::Config config_for(const Network& net, const IpPrefix& pod_address) {
    auto node_subnet = net.node_subnet.value_or(pod_address.network());
    std::optional<IpPrefix> cluster;
    if (net.subnet_env && net.subnet_env->has_ipv4())
        cluster = net.subnet_env->network;
    return masquerade::plugin_config(node_subnet, cluster);
}

std::optional<IpPrefix> first_ipv4(const std::vector<IpPrefix>& addresses) {
    for (const auto& address : addresses) {
        if (address.address.is_v4())
            return address;
    }
    return std::nullopt;
}

}  // namespace

void ensure_masquerade(const Network& net, const std::vector<IpPrefix>& pod_addresses) {
    auto pod_address = first_ipv4(pod_addresses);
    if (!pod_address)
        return;
    try {
        masquerade::ensure(config_for(net, *pod_address));
    } catch (const std::exception& e) {
        throw cni::Error(cni::kInternal, "cannot install the masquerade rules", e.what());
    }
}

std::string check_masquerade(const Network& net, const std::vector<IpPrefix>& pod_addresses) {
    auto pod_address = first_ipv4(pod_addresses);
    if (!pod_address)
        return "";
    auto config = config_for(net, *pod_address);
    try {
        if (masquerade::is_installed(config))
            return "";
    } catch (const std::exception& e) {
        return std::string("masquerade: ") + e.what();
    }
    return "masquerade table ip shuttle does not hold the rules for node subnet " +
           config.node_subnet.str() + " and cluster " + config.cluster_network.str();
}

}  // namespace shuttle::plugin
