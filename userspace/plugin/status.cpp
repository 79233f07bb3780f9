#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "common/json_text.h"
#include "cni/error.h"
#include "ipam/delegate.h"
#include "plugin/commands.h"
#include "plugin/datapath_hook.h"
#include "plugin/network.h"

namespace shuttle::plugin {

namespace {

[[noreturn]] void not_available(const std::string& why, const std::string& details) {
    throw cni::Error(cni::kNotAvailable, why, details);
}

void require_writable(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        not_available("the IPAM data dir is not writable", dir + ": " + ec.message());
    auto probe = dir + "/.status-probe." + std::to_string(::getpid());
    int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        not_available("the IPAM data dir is not writable", dir + ": " + std::strerror(errno));
    ::close(fd);
    ::unlink(probe.c_str());
}

}  // namespace

void cmd_status(const cni::Environment& env, const cni::NetConf& conf) {
    Network net;
    try {
        net = load_network(conf, SubnetFileNeed::Required);
    } catch (const cni::Error& e) {
        not_available(e.msg(), e.details());
    }
    if (net.builtin_ipam) {
        require_writable(net.ipam.data_dir + "/" + conf.name);
    } else {
        std::string path;
        try {
            path = ipam::find_plugin(net.ipam_type, env.path);
        } catch (const cni::Error& e) {
            not_available("the IPAM plugin is missing", e.details());
        }
        // Plugins older than spec 1.1.0 do not know STATUS.
        if (ipam::plugin_supports(path, conf.cni_version)) {
            ipam::exec_plugin(path, "STATUS", dump_json(net.effective_config));
        }
    }
    require_writable(net.state_dir);
    if (auto why = datapath_status(net); !why.empty()) {
        not_available("the eBPF datapath cannot be pinned", why);
    }
}

}  // namespace shuttle::plugin
