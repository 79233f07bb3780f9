#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cni/result.h"
#include "ipam/config.h"
#include "ipam/store.h"

namespace shuttle::ipam {

// host-local's allocation, under the store lock: one address per range set, round-robin
// after last_reserved_ip.<N>, skipping the gateway; requested addresses must lie in a set.
// Throws cni::Error: kDuplicateAllocation (the attachment already holds an address in a set),
// kRangeExhausted, kAddressUnavailable (a requested address is taken, is the gateway, or
// fits no set). On failure nothing stays reserved.
cni::Result allocate(Store& store, const Config& config, const std::string& container_id,
                     const std::string& ifname, const std::vector<IpAddress>& requested);

// Releases every address of (container, ifname) under the lock. Never fails for a missing one.
std::vector<IpAddress> release(Store& store, const std::string& container_id,
                               const std::string& ifname);

}  // namespace shuttle::ipam
