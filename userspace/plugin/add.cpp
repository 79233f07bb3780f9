#include <filesystem>

#include "common/json_text.h"
#include "cni/error.h"
#include "common/fault_point.h"
#include "plugin/masquerade.h"
#include "plugin/attachment.h"
#include "plugin/commands.h"
#include "plugin/datapath_hook.h"
#include "plugin/ipam_client.h"
#include "plugin/log.h"
#include "plugin/network.h"
#include "plugin/pod_netns.h"
#include "plugin/rollback.h"
#include "plugin/wiring.h"

namespace shuttle::plugin {

namespace {

// The pod's routes: a default route per address family via that family's gateway
// (0.0.0.0/0, ::/0), then the IPAM routes.
std::vector<cni::Route> pod_routes(const cni::Result& ipam) {
    std::vector<cni::Route> routes;
    for (int family : {AF_INET, AF_INET6}) {
        if (auto gateway = cni::gateway_of(ipam.ips, family))
            routes.push_back(
                cni::Route{IpPrefix::default_route(family), gateway, {}, {}, {}, {}, {}});
    }
    for (const auto& r : ipam.routes) {
        if (r.dst.length == 0)
            continue;
        routes.push_back(r);
    }
    return routes;
}

// Our interfaces, addresses and routes, after those of a prevResult when shuttle is not
// first in the chain (a plugin must pass the previous result on).
cni::Result build_result(const cni::Environment& env, const Network& net, const cni::Result& ipam,
                         const Wired& wired, const std::vector<cni::Route>& routes,
                         cni::Result result) {
    int pod_index = static_cast<int>(result.interfaces.size()) + 1;
    result.interfaces.push_back({wired.host_ifname, wired.host_mac.str(), wired.mtu, "", "", ""});
    result.interfaces.push_back({env.ifname, wired.pod_mac.str(), wired.mtu, env.netns, "", ""});
    for (auto ip : ipam.ips) {
        ip.interface = pod_index;
        result.ips.push_back(ip);
    }
    result.routes.insert(result.routes.end(), routes.begin(), routes.end());
    auto dns = net.conf.dns.empty() ? ipam.dns : net.conf.dns;
    if (!dns.empty())
        result.dns = dns;
    return result;
}

std::vector<IpPrefix> addresses_of(const std::vector<cni::IpConfig>& ips) {
    std::vector<IpPrefix> addresses;
    for (const auto& ip : ips)
        addresses.push_back(ip.address);
    return addresses;
}

AttachmentRecord make_record(const cni::Environment& env, const Network& net,
                             const cni::Result& ipam, const Wired& wired) {
    AttachmentRecord record;
    record.container_id = env.container_id;
    record.ifname = env.ifname;
    record.netns = env.netns;
    record.host_ifname = wired.host_ifname;
    record.pod_namespace = env.args.pod_namespace;
    record.pod_name = env.args.pod_name;
    record.pod_mac = wired.pod_mac.str();
    record.host_mac = wired.host_mac.str();
    record.addresses = addresses_of(ipam.ips);
    record.gateway = cni::gateway_of(ipam.ips, AF_INET);
    if (!record.gateway)
        record.gateway = ipam.ips.front().gateway;
    record.gateway6 = cni::gateway_of(ipam.ips, AF_INET6);
    record.ipam_type = net.ipam_type;
    record.attach = attach_mode_of(net);
    if (!net.builtin_ipam)
        record.delegate_config = net.effective_config;
    return record;
}

// One datapath per node: a second shuttle network would share its maps (DESIGN "State").
void refuse_second_network(const Network& net) {
    namespace fs = std::filesystem;
    auto parent = fs::path(net.state_dir).parent_path();
    std::error_code ec;
    for (const auto& dir : fs::directory_iterator(parent, ec)) {
        if (!dir.is_directory() || dir.path().filename() == net.conf.name)
            continue;
        for (const auto& file : fs::directory_iterator(dir.path(), ec)) {
            if (file.path().extension() != ".json")
                continue;
            throw cni::Error(cni::kInvalidConfig, "invalid network config: name",
                             "shuttle network " + dir.path().filename().string() +
                                 " already has pods on this node; one shuttle network per node");
        }
    }
}

}  // namespace

std::string cmd_add(const cni::Environment& env, const cni::NetConf& conf) {
    auto net = load_network(conf, SubnetFileNeed::Required);
    cni::Result previous;
    if (!conf.prev_result.is_null())
        previous = cni::parse_result(conf.prev_result, "prevResult");
    refuse_second_network(net);
    auto netns_fd = open_pod_netns(env.netns);
    auto pod = pod_socket(netns_fd.get());
    if (pod_has_interface(pod, env.ifname)) {
        throw cni::Error(cni::kInterfaceExists, "interface already exists in the container",
                         env.ifname + " in " + env.netns);
    }
    Rollback rollback;
    auto ipam = ipam_add(net, env, rollback);
    fault_point("add-after-ipam");
    if (ipam.ips.empty()) {
        throw cni::Error(cni::kInvalidConfig, "invalid network config: ipam", "no addresses");
    }
    auto routes = pod_routes(ipam);

    WireRequest request;
    request.container_id = env.container_id;
    request.ifname = env.ifname;
    request.netns_fd = netns_fd.get();
    request.mtu = net.mtu;
    request.pod_mac = conf.mac;
    request.ips = ipam.ips;
    request.routes = routes;
    auto wired = wire_pod(request, pod, rollback);
    fault_point("add-after-veth");
    if (net.masquerade)
        ensure_masquerade(net, addresses_of(ipam.ips));

    auto record = make_record(env, net, ipam, wired);
    rollback.add([&net, record] { datapath_detach(net, record); });
    datapath_attach(net, record, wired.host_index);  // DATAPATH CALL SITE
    fault_point("add-after-attach");

    AttachmentStore attachments(net.state_dir);
    attachments.save(record);
    fault_point("add-after-record");
    rollback.commit();
    auto result = build_result(env, net, ipam, wired, routes, std::move(previous));
    return dump_json(cni::result_json(result, conf.cni_version));
}

}  // namespace shuttle::plugin
