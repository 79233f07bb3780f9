#pragma once

#include <string>

#include "common/unique_fd.h"

namespace shuttle::plugin {

// Opens CNI_NETNS for ADD / CHECK: code 3 when it does not exist, code 4 when it is not a
// network namespace or is the plugin's own one.
UniqueFd open_pod_netns(const std::string& path);

}  // namespace shuttle::plugin
