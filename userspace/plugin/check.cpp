#include "cni/error.h"
#include "plugin/attachment.h"
#include "plugin/commands.h"
#include "plugin/datapath_hook.h"
#include "plugin/host_veth.h"
#include "plugin/ipam_client.h"
#include "plugin/masquerade.h"
#include "plugin/network.h"
#include "plugin/pod_netns.h"
#include "plugin/wiring.h"

namespace shuttle::plugin {

namespace {

ExpectedWiring expected_from(const cni::Environment& env, const Network& net,
                             const cni::Result& prev, std::vector<std::string>& drift) {
    ExpectedWiring expected;
    expected.netns_path = env.netns;
    expected.ifname = env.ifname;
    std::optional<int> pod_index;
    for (size_t i = 0; i < prev.interfaces.size(); ++i) {
        const auto& iface = prev.interfaces[i];
        if (!iface.sandbox.empty() && iface.name == env.ifname) {
            pod_index = static_cast<int>(i);
            expected.pod_mac = iface.mac;
            expected.mtu = iface.mtu;
        } else if (iface.sandbox.empty() && expected.host_ifname.empty() &&
                   is_host_veth_name(iface.name)) {
            expected.host_ifname = iface.name;
        }
    }
    if (!pod_index)
        drift.push_back("prevResult names no interface " + env.ifname);
    if (!expected.mtu && net.mtu > 0)
        expected.mtu = net.mtu;
    std::vector<cni::IpConfig> ours;
    for (const auto& ip : prev.ips) {
        if (ip.interface && pod_index && *ip.interface != *pod_index)
            continue;
        expected.addresses.push_back(ip.address);
        ours.push_back(ip);
    }
    for (int family : {AF_INET, AF_INET6}) {
        if (auto gateway = cni::gateway_of(ours, family))
            expected.gateways.push_back(*gateway);
    }
    expected.routes = prev.routes;
    return expected;
}

}  // namespace

void cmd_check(const cni::Environment& env, const cni::NetConf& conf) {
    auto net = load_network(conf, SubnetFileNeed::Required);
    if (conf.prev_result.is_null()) {
        throw cni::Error(cni::kInvalidConfig, "invalid network config: prevResult",
                         "CHECK needs the ADD result as prevResult");
    }
    open_pod_netns(env.netns);
    auto prev = cni::parse_result(conf.prev_result, "prevResult");
    std::vector<std::string> drift;
    auto expected = expected_from(env, net, prev, drift);
    auto wiring = check_wiring(expected);
    drift.insert(drift.end(), wiring.begin(), wiring.end());
    if (net.masquerade && !expected.addresses.empty()) {
        auto masq = check_masquerade(net, expected.addresses);
        if (!masq.empty())
            drift.push_back(masq);
    }
    auto ipam = ipam_check(net, env, expected.addresses);
    drift.insert(drift.end(), ipam.begin(), ipam.end());

    AttachmentStore attachments(net.state_dir);
    if (auto record = attachments.load(env.container_id, env.ifname)) {
        auto datapath = datapath_check(net, *record);  // DATAPATH CALL SITE
        if (!datapath.empty())
            drift.push_back(datapath);
    } else {
        drift.push_back("shuttle has no record of " + env.container_id + "/" + env.ifname);
    }
    if (drift.empty())
        return;
    std::string details;
    for (const auto& d : drift)
        details += (details.empty() ? "" : "; ") + d;
    throw cni::Error(cni::kCheckFailed, "check failed", details);
}

}  // namespace shuttle::plugin
