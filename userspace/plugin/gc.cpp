#include <algorithm>
#include <set>

#include "common/json_text.h"
#include "cni/error.h"
#include "ipam/delegate.h"
#include "ipam/store.h"
#include "plugin/attachment.h"
#include "plugin/commands.h"
#include "plugin/datapath_hook.h"
#include "plugin/ipam_client.h"
#include "plugin/log.h"
#include "plugin/network.h"
#include "plugin/wiring.h"

namespace shuttle::plugin {

namespace {

struct Failures {
    std::vector<std::string> lines;
    template <typename F>
    void attempt(const std::string& what, F action) {
        try {
            action();
        } catch (const std::exception& e) {
            lines.push_back(what + ": " + e.what());
        }
    }
};

bool is_valid(const std::set<cni::AttachmentId>& valid, const std::string& container_id,
              const std::string& ifname) {
    if (!ifname.empty())
        return valid.count({container_id, ifname}) > 0;
    // host-local's old format names the container only.
    return std::any_of(valid.begin(), valid.end(),
                       [&](const cni::AttachmentId& a) { return a.container_id == container_id; });
}

}  // namespace

// Releases every attachment not in cni.dev/valid-attachments: its host veth, datapath state,
// addresses and record; then any reservation in the store that no valid attachment holds.
// Carries on past failures and reports them all.
void cmd_gc(const cni::Environment& env, const cni::NetConf& conf) {
    if (!conf.valid_attachments) {
        throw cni::Error(cni::kInvalidConfig, "invalid network config: cni.dev/valid-attachments",
                         "missing");
    }
    std::set<cni::AttachmentId> valid(conf.valid_attachments->begin(),
                                      conf.valid_attachments->end());
    auto net = load_network(conf, SubnetFileNeed::Optional);
    Failures failures;
    AttachmentStore attachments(net.state_dir);
    for (const auto& record : attachments.list()) {
        if (is_valid(valid, record.container_id, record.ifname))
            continue;
        auto name = record.container_id + "/" + record.ifname;
        log_info(conf.log_file, "GC: releasing " + name);
        failures.attempt(name + " datapath", [&] { datapath_detach(net, record); });
        failures.attempt(name + " host interface", [&] { remove_host_veth(record.host_ifname); });
        failures.attempt(name + " ipam", [&] {
            ipam_del(net, env.path, record.container_id, record.ifname, record.delegate_config);
        });
        failures.attempt(name + " record",
                         [&] { attachments.remove(record.container_id, record.ifname); });
    }
    if (net.builtin_ipam) {
        failures.attempt("ipam store", [&] {
            ipam::Store store(net.ipam.data_dir, conf.name);
            auto lock = store.lock();
            for (const auto& r : store.list()) {
                if (is_valid(valid, r.container_id, r.ifname))
                    continue;
                log_info(conf.log_file, "GC: releasing " + r.ip.str() + " of " + r.container_id);
                store.release(r.ip);
            }
        });
    } else {
        failures.attempt("ipam plugin " + net.ipam_type, [&] {
            auto path = ipam::find_plugin(net.ipam_type, env.path);
            // Plugins older than spec 1.1.0 do not know GC.
            if (ipam::plugin_supports(path, conf.cni_version)) {
                ipam::exec_plugin(path, "GC", dump_json(net.effective_config));
            }
        });
    }
    if (failures.lines.empty())
        return;
    std::string details;
    for (const auto& l : failures.lines)
        details += (details.empty() ? "" : "; ") + l;
    throw cni::Error(cni::kInternal, "GC finished with errors", details);
}

}  // namespace shuttle::plugin
