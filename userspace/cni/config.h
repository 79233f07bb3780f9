#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cni/result.h"
#include "common/ip.h"

namespace shuttle::cni {

// None: no eBPF at all, pods use the host routing alone (for comparison and debugging).
enum class AttachMode { Auto, Tcx, Tc, None };

struct AttachmentId {
    std::string container_id;
    std::string ifname;
    auto operator<=>(const AttachmentId&) const = default;
};

// One plugin's network configuration as the runtime hands it over on stdin.
struct NetConf {
    std::string cni_version;
    std::string name;
    std::string type;
    std::optional<int> mtu;
    nlohmann::json ipam;  // the "ipam" object as given, or null
    std::string ipam_type;
    Dns dns;
    bool ip_masq = false;
    bool ip_masq_set = false;
    std::string subnet_file;
    std::string bpffs_root = "/sys/fs/bpf/shuttle";
    AttachMode attach = AttachMode::Auto;
    std::string log_file;
    std::string data_dir;  // shuttle's own records; "" = next to the IPAM store
    // runtimeConfig.ips / .mac and args.cni.ips / .mac
    std::vector<IpAddress> requested_ips;
    std::optional<MacAddress> mac;
    bool egress_shaping = false;  // runtimeConfig.bandwidth.egressRate > 0
    nlohmann::json prev_result;   // null when absent
    std::optional<std::vector<AttachmentId>> valid_attachments;  // GC: cni.dev/valid-attachments
    nlohmann::json raw;                                          // the whole input
};

// Decodes stdin. Throws Error with kDecodeFailure (not JSON / not an object),
// kIncompatibleVersion (cniVersion not supported) or kInvalidConfig naming the field.
// Unknown keys are ignored.
NetConf parse_netconf(const std::string& text);

// The cniVersion of an input if one can be read and is supported, else the current version:
// the version of an error object.
std::string error_version(const std::string& text);

}  // namespace shuttle::cni
