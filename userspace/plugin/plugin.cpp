#include "plugin/plugin.h"

#include <system_error>

#include "common/json_text.h"
#include "cni/config.h"
#include "cni/error.h"
#include "cni/version.h"
#include "netlink/error.h"
#include "plugin/commands.h"
#include "plugin/log.h"

namespace shuttle::plugin {

namespace {

void require_version(const cni::NetConf& conf, cni::Command command, const char* minimum) {
    if (cni::compare_versions(conf.cni_version, minimum) < 0) {
        throw cni::Error(cni::kIncompatibleVersion, "incompatible CNI version",
                         std::string(cni::command_name(command)) + " needs cniVersion " + minimum +
                             " or later; the config says " + conf.cni_version);
    }
}

std::string dispatch(const cni::Environment& env, const std::string& stdin_text) {
    if (env.command == cni::Command::Version) {
        return dump_json(cni::version_info());
    }
    auto conf = cni::parse_netconf(stdin_text);
    log_info(conf.log_file, std::string(cni::command_name(env.command)) + " " + conf.name + " " +
                                env.container_id + " " + env.ifname + " " + env.netns);
    switch (env.command) {
        case cni::Command::Add:
            return cmd_add(env, conf);
        case cni::Command::Del:
            cmd_del(env, conf);
            return "";
        case cni::Command::Check:
            require_version(conf, env.command, "0.4.0");
            cmd_check(env, conf);
            return "";
        case cni::Command::Status:
            require_version(conf, env.command, "1.1.0");
            cmd_status(env, conf);
            return "";
        case cni::Command::Gc:
            require_version(conf, env.command, "1.1.0");
            cmd_gc(env, conf);
            return "";
        case cni::Command::Version:
            break;
    }
    return "";
}

}  // namespace

std::string run(const cni::Environment& env, const std::string& stdin_text) {
    try {
        return dispatch(env, stdin_text);
    } catch (const cni::Error&) {
        throw;
    } catch (const netlink::Error& e) {
        throw cni::Error(cni::kNetlinkFailure, "netlink request failed", e.what());
    } catch (const std::system_error& e) {
        throw cni::Error(cni::kIoFailure, "I/O failure", e.what());
    }
}

}  // namespace shuttle::plugin
