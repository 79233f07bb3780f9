#pragma once

#include <string>
#include <vector>

#include "cni/environment.h"
#include "cni/result.h"
#include "plugin/attachment.h"
#include "plugin/network.h"
#include "plugin/rollback.h"

namespace shuttle::plugin {

// IPAM for one command: the built-in host-local-compatible allocator for ipam.type
// "host-local", any other type delegated through CNI_PATH.

// Allocates; registers the release (or the delegate's DEL) on `rollback`. Refuses IPv6
// (code 2), and delegated addresses outside the node subnet (code 7). Every returned IP
// has a gateway (the subnet's first address when IPAM gave none).
cni::Result ipam_add(const Network& net, const cni::Environment& env, Rollback& rollback);

// Releases what (container ID, ifname) holds. `delegate_config`, when not null, is what the
// delegate got at ADD. Never fails for a missing reservation.
void ipam_del(const Network& net, const std::string& cni_path, const std::string& container_id,
              const std::string& ifname, const nlohmann::json& delegate_config);

// What (container ID, ifname) holds in the built-in store (empty for delegated IPAM): how
// DEL finds the addresses of an ADD that died before writing its record.
std::vector<IpAddress> ipam_reserved(const Network& net, const std::string& container_id,
                                     const std::string& ifname);

// Drifts: reservations missing for `addresses`; or the delegate's CHECK error.
std::vector<std::string> ipam_check(const Network& net, const cni::Environment& env,
                                    const std::vector<IpPrefix>& addresses);

// The ipam.type binary in CNI_PATH for delegated IPAM, "" for the built-in one.
std::string ipam_delegate_path(const Network& net, const std::string& cni_path);

}  // namespace shuttle::plugin
