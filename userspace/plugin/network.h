#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cni/config.h"
#include "flannel/subnet_env.h"
#include "ipam/config.h"

namespace shuttle::plugin {

// The configuration one command works with: the stdin config with flannel's subnet.env
// applied as the flannel meta plugin applies it.
struct Network {
    cni::NetConf conf;
    std::optional<flannel::SubnetEnv> subnet_env;
    int mtu = 0;  // 0: the kernel's default
    bool builtin_ipam = true;
    std::string ipam_type;
    ipam::Config ipam;                     // when builtin_ipam
    nlohmann::json effective_config;       // stdin with the effective ipam: what a delegate gets
    std::optional<IpPrefix> node_subnet;   // FLANNEL_SUBNET's network when a subnetFile has one
    std::optional<IpPrefix> node_subnet6;  // FLANNEL_IPV6_SUBNET's network, likewise
    bool masquerade = false;  // ipMasq && !FLANNEL_IPMASQ (not implemented yet: see docs)
    // <dataDir>/<name> when the config has a top-level dataDir (as flannel's meta plugin),
    // else <dirname(ipam.dataDir)>/shuttle/<name>: /var/lib/cni/shuttle/<name> by default.
    std::string state_dir;
};

enum class SubnetFileNeed { Required, Optional };

// Applies subnetFile and parses the IPAM config.
// subnetFile set but the file missing: Required -> Error(kTryAgainLater); Optional (DEL, GC)
// -> carries on without it. A malformed file is kInvalidConfig.
Network load_network(const cni::NetConf& conf, SubnetFileNeed need);

// The folder of per-attachment records for a data dir and network name.
std::string state_dir_for(const std::string& ipam_data_dir, const std::string& network);

}  // namespace shuttle::plugin
