#include "plugin/attachment.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/json_text.h"
#include "common/system_error.h"
#include "common/unique_fd.h"

namespace shuttle::plugin {

namespace fs = std::filesystem;
using nlohmann::json;

json record_json(const AttachmentRecord& r) {
    json addresses = json::array();
    for (const auto& a : r.addresses)
        addresses.push_back(a.str());
    json out = {{"containerID", r.container_id},
                {"ifname", r.ifname},
                {"netns", r.netns},
                {"hostIfname", r.host_ifname},
                {"podNamespace", r.pod_namespace},
                {"podName", r.pod_name},
                {"podMac", r.pod_mac},
                {"hostMac", r.host_mac},
                {"addresses", addresses},
                {"ipamType", r.ipam_type}};
    if (!r.attach.empty())
        out["attach"] = r.attach;
    if (r.gateway)
        out["gateway"] = r.gateway->str();
    if (r.gateway6)
        out["gateway6"] = r.gateway6->str();
    if (!r.delegate_config.is_null())
        out["delegateConfig"] = r.delegate_config;
    return out;
}

AttachmentRecord parse_record(const json& j) {
    AttachmentRecord r;
    r.container_id = j.at("containerID").get<std::string>();
    r.ifname = j.at("ifname").get<std::string>();
    r.netns = j.value("netns", "");
    r.host_ifname = j.value("hostIfname", "");
    r.pod_namespace = j.value("podNamespace", "");
    r.pod_name = j.value("podName", "");
    r.pod_mac = j.value("podMac", "");
    r.host_mac = j.value("hostMac", "");
    for (const auto& a : j.value("addresses", json::array())) {
        if (auto p = IpPrefix::parse(a.get<std::string>()))
            r.addresses.push_back(*p);
    }
    if (j.contains("gateway"))
        r.gateway = IpAddress::parse(j["gateway"].get<std::string>());
    if (j.contains("gateway6"))
        r.gateway6 = IpAddress::parse(j["gateway6"].get<std::string>());
    r.ipam_type = j.value("ipamType", "");
    r.attach = j.value("attach", "");
    if (j.contains("delegateConfig"))
        r.delegate_config = j["delegateConfig"];
    return r;
}

std::string AttachmentStore::path_of(const std::string& container_id,
                                     const std::string& ifname) const {
    return dir_ + "/" + container_id + "-" + ifname + ".json";
}

void AttachmentStore::save(const AttachmentRecord& record) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec)
        throw system_error(ec.value(), "create " + dir_);
    auto path = path_of(record.container_id, record.ifname);
    auto tmp = path + ".tmp" + std::to_string(::getpid());
    auto text = dump_json(record_json(record), 2) + "\n";
    {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd)
            throw_errno("open " + tmp);
        if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
            ::unlink(tmp.c_str());
            throw_errno("write " + tmp);
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        ::unlink(tmp.c_str());
        throw_errno("rename " + tmp);
    }
}

std::optional<AttachmentRecord> AttachmentStore::load(const std::string& container_id,
                                                      const std::string& ifname) const {
    std::ifstream in(path_of(container_id, ifname));
    if (!in)
        return std::nullopt;
    try {
        return parse_record(parse_json(in));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

void AttachmentStore::remove(const std::string& container_id, const std::string& ifname) {
    auto path = path_of(container_id, ifname);
    if (::unlink(path.c_str()) < 0 && errno != ENOENT)
        throw_errno("remove " + path);
}

std::vector<AttachmentRecord> AttachmentStore::list() const {
    std::vector<AttachmentRecord> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        if (entry.path().extension() != ".json")
            continue;
        std::ifstream in(entry.path());
        try {
            out.push_back(parse_record(parse_json(in)));
        } catch (const std::exception&) {
        }
    }
    return out;
}

}  // namespace shuttle::plugin
