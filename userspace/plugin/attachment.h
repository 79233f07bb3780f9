#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cni/config.h"
#include "common/ip.h"

namespace shuttle::plugin {

// What ADD set up for one (container ID, ifname), so DEL, GC and inspection tools find it
// without a prevResult: <stateDir>/<containerID>-<ifname>.json.
struct AttachmentRecord {
    std::string container_id;
    std::string ifname;
    std::string netns;
    std::string host_ifname;
    std::string pod_namespace;  // K8S_POD_NAMESPACE
    std::string pod_name;       // K8S_POD_NAME
    std::string pod_mac;
    std::string host_mac;
    std::vector<IpPrefix> addresses;
    std::optional<IpAddress> gateway;   // IPv4's, or IPv6's on an IPv6-only network
    std::optional<IpAddress> gateway6;  // the IPv6 gateway (records before it: none)
    std::string ipam_type;
    std::string attach;  // the datapath mode ADD asked for: tc, auto or tcx ("" in old records)
    nlohmann::json delegate_config;  // the config a delegated IPAM plugin got (null if built-in)

    cni::AttachmentId id() const { return {container_id, ifname}; }
};

nlohmann::json record_json(const AttachmentRecord& record);
AttachmentRecord parse_record(const nlohmann::json& json);

class AttachmentStore {
  public:
    explicit AttachmentStore(std::string dir) : dir_(std::move(dir)) {}
    const std::string& dir() const { return dir_; }

    // Written to a temporary file and renamed, so readers never see half a record.
    void save(const AttachmentRecord& record);
    std::optional<AttachmentRecord> load(const std::string& container_id,
                                         const std::string& ifname) const;
    void remove(const std::string& container_id, const std::string& ifname);
    // Unreadable files are skipped.
    std::vector<AttachmentRecord> list() const;

  private:
    std::string path_of(const std::string& container_id, const std::string& ifname) const;
    std::string dir_;
};

}  // namespace shuttle::plugin
