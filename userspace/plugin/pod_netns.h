#pragma once

#include <string>

#include "common/unique_fd.h"

namespace shuttle::plugin {

// Opens CNI_NETNS for ADD / CHECK: code 3 when it does not exist, code 4 when it is not a
// network namespace or is the plugin's own one.
UniqueFd open_pod_netns(const std::string& path);

// DEL: a CNI_NETNS that is the plugin's own namespace is code 4 (deleting CNI_IFNAME there
// would take down the node's interface). A missing or empty one is fine.
void refuse_own_netns(const std::string& path);

}  // namespace shuttle::plugin
