#include "plugin/pod_netns.h"

#include <fcntl.h>
#include <sys/vfs.h>

#include "cni/error.h"
#include "common/system_error.h"
#include "netns/guard.h"

namespace shuttle::plugin {

namespace {
constexpr long kNsfsMagic = 0x6e736673;
}

UniqueFd open_pod_netns(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) {
            throw cni::Error(cni::kUnknownContainer, "container network namespace does not exist",
                             path);
        }
        throw_errno("open netns " + path);
    }
    struct statfs fs {};
    if (::fstatfs(fd.get(), &fs) < 0 || fs.f_type != kNsfsMagic) {
        throw cni::Error(cni::kInvalidEnvironment, "invalid CNI_NETNS",
                         path + " is not a network namespace");
    }
    if (netns::same_namespace(fd.get(), netns::open_current().get())) {
        throw cni::Error(cni::kInvalidEnvironment, "invalid CNI_NETNS",
                         path + " is the plugin's own network namespace");
    }
    return fd;
}

void refuse_own_netns(const std::string& path) {
    if (path.empty())
        return;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        return;
    if (netns::same_namespace(fd.get(), netns::open_current().get())) {
        throw cni::Error(cni::kInvalidEnvironment, "invalid CNI_NETNS",
                         path + " is the plugin's own network namespace");
    }
}

}  // namespace shuttle::plugin
