#pragma once

#include <string>

namespace shuttle::plugin {

// The host end's name for (container ID, ifname): "sh" + 13 hex digits of a 64-bit FNV-1a
// hash = 15 characters, the kernel's limit. attempt > 0 salts the hash to step around a
// name that is already taken by another attachment.
std::string host_veth_name(const std::string& container_id, const std::string& ifname,
                           int attempt = 0);

// True for names of that shape: "sh" + 13 lowercase hex digits.
bool is_host_veth_name(const std::string& name);

}  // namespace shuttle::plugin
