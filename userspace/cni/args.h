#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip.h"

namespace shuttle::cni {

// CNI_ARGS: "K=V;K=V". Known keys are typed; every pair stays in `all`.
struct CniArgs {
    bool ignore_unknown = false;
    std::string pod_namespace;           // K8S_POD_NAMESPACE
    std::string pod_name;                // K8S_POD_NAME
    std::string pod_infra_container_id;  // K8S_POD_INFRA_CONTAINER_ID
    std::string pod_uid;                 // K8S_POD_UID
    std::vector<IpAddress> ips;          // IP=10.1.2.3[,10.1.2.4]
    std::map<std::string, std::string> all;
};

// Throws Error(kInvalidEnvironment) naming the pair on a malformed pair, a bad IP, or an
// unknown key without IgnoreUnknown=1|true.
CniArgs parse_cni_args(std::string_view text);

}  // namespace shuttle::cni
