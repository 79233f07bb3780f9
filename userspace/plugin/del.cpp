#include <exception>

#include "cni/error.h"
#include "common/fault_point.h"
#include "plugin/attachment.h"
#include "plugin/commands.h"
#include "plugin/datapath_hook.h"
#include "plugin/host_veth.h"
#include "plugin/ipam_client.h"
#include "plugin/log.h"
#include "plugin/network.h"
#include "plugin/pod_netns.h"
#include "plugin/wiring.h"

namespace shuttle::plugin {

namespace {

// The host end named by a prevResult: the interface without a sandbox.
std::string host_ifname_from(const cni::NetConf& conf) {
    if (conf.prev_result.is_null())
        return "";
    try {
        auto prev = cni::parse_result(conf.prev_result, "prevResult");
        for (const auto& iface : prev.interfaces) {
            if (iface.sandbox.empty() && is_host_veth_name(iface.name))
                return iface.name;
        }
    } catch (const cni::Error&) {
    }
    return "";
}

}  // namespace

// Best effort and idempotent: every step runs even when an earlier one failed; the first
// failure is reported after all of them, and the record stays so a retry or GC finishes.
void cmd_del(const cni::Environment& env, const cni::NetConf& conf) {
    refuse_own_netns(env.netns);
    auto net = load_network(conf, SubnetFileNeed::Optional);
    AttachmentStore attachments(net.state_dir);
    auto record = attachments.load(env.container_id, env.ifname);
    AttachmentRecord known = record.value_or(AttachmentRecord{});
    known.container_id = env.container_id;
    known.ifname = env.ifname;
    if (known.host_ifname.empty())
        known.host_ifname = host_ifname_from(conf);
    if (!record) {
        // An ADD that died before its record may have written map entries: its addresses
        // are still reserved under (container ID, ifname), and the entries name the veth.
        for (const auto& ip : ipam_reserved(net, env.container_id, env.ifname))
            known.addresses.push_back(IpPrefix{ip, ip.is_v4() ? 32 : 128});
    }

    std::exception_ptr first_failure;
    auto step = [&](const char* what, auto&& action) {
        try {
            action();
        } catch (const std::exception& e) {
            log_line(conf.log_file, std::string("DEL: ") + what + ": " + e.what());
            if (!first_failure)
                first_failure = std::current_exception();
        }
    };
    // The veth goes first: its tc filters and TCX links go with it, so the datapath step
    // only clears the pod's map entries and link pins instead of detaching one by one.
    step("pod interface", [&] { remove_pod_interface(env.netns, env.ifname); });
    fault_point("del-after-pod-interface");
    step("host interface", [&] { remove_host_veth(known.host_ifname); });
    fault_point("del-after-host-veth");
    step("datapath", [&] { datapath_detach(net, known); });  // DATAPATH CALL SITE
    fault_point("del-after-datapath");
    step("ipam", [&] {
        ipam_del(net, env.path, env.container_id, env.ifname,
                 record ? record->delegate_config : nlohmann::json());
    });
    fault_point("del-after-ipam");
    if (first_failure)
        std::rethrow_exception(first_failure);
    attachments.remove(env.container_id, env.ifname);
}

}  // namespace shuttle::plugin
