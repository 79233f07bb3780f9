// Whether a pod's programs and entries are what the kernel holds: check() for CNI CHECK and
// the agent's repair, attachments() for shuttlectl and status.
#include <algorithm>
#include <string>

#include "datapath/abi_values.h"
#include "datapath/attach.h"
#include "datapath/bpffs.h"
#include "datapath/datapath.h"
#include "datapath/map_access.h"
#include "datapath/pin_layout.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {

namespace {

// "" when the entry is the endpoint's (host veth, MACs); else what drifted.
template <class Entry>
std::string entry_drift(const Entry& ep, const IpAddress& ip, const Endpoint& endpoint) {
    if (ep.ifindex != static_cast<uint32_t>(endpoint.host_ifindex)) {
        return "endpoint " + ip.str() + " points at ifindex " + std::to_string(ep.ifindex) +
               ", not " + std::to_string(endpoint.host_ifindex);
    }
    if (mac_of(ep.pod_mac) != endpoint.pod_mac || mac_of(ep.host_mac) != endpoint.host_mac) {
        return "endpoint " + ip.str() + " has MACs " + mac_of(ep.pod_mac).str() + "/" +
               mac_of(ep.host_mac).str();
    }
    return "";
}

}  // namespace

std::string Node::attach_check(int ifindex, const std::string& ifname, uint32_t mode,
                               bool overlay) const {
    for (const HookSpec& spec : hooks_of(overlay)) {
        std::string drift = hook_check(spec, ifindex, ifname, mode);
        if (!drift.empty()) {
            return drift;
        }
    }
    return "";
}

std::string Node::hook_check(const HookSpec& spec, int ifindex, const std::string& ifname,
                             uint32_t mode) const {
    uint32_t want = prog_id(program_fd(spec.program));
    std::string where = std::string(spec.program) + " on " + ifname;
    if (mode == SHUTTLE_ATTACH_TCX) {
        UniqueFd link = open_pin(link_pin_of(pin_dir_, spec, ifname));
        if (!link) {
            return where + ": no pinned TCX link";
        }
        TcxLinkInfo info = tcx_link_info(link.get());
        if (info.ifindex != static_cast<uint32_t>(ifindex) || info.prog_id != want) {
            return where + ": TCX link is on ifindex " + std::to_string(info.ifindex) +
                   " with program " + std::to_string(info.prog_id);
        }
    } else if (mode == SHUTTLE_ATTACH_TC) {
        auto attached = tc_prog_id(ifindex, spec.hook);
        if (!attached) {
            return where + ": no cls_bpf filter";
        }
        if (*attached != want) {
            return where + ": the cls_bpf filter runs program " + std::to_string(*attached);
        }
    } else {
        return where + ": never attached";
    }
    return "";
}

bool Node::has_program(const std::string& name) const {
    return std::any_of(programs_.begin(), programs_.end(),
                       [&](const auto& p) { return p.first == name; });
}

std::string Node::check_ipv6(const Endpoint& endpoint) const {
    if (endpoint.ip6.empty() || !has_ipv6_maps() || !table6().configured()) {
        return "";
    }
    auto ep = table6().find(ip6_key(endpoint.ip6));
    if (!ep) {
        return "no endpoint entry for " + endpoint.ip6.str();
    }
    return entry_drift(*ep, endpoint.ip6, endpoint);
}

std::string Node::check_ipv6_only(const Endpoint& endpoint) const {
    if (!has_ipv6_only_maps()) {
        return "the pinned datapath has no IPv6-only endpoints (pins of an older build)";
    }
    if (!table6().configured()) {
        return "no IPv6 pod network in the datapath's config";
    }
    auto ep = table6().find(ip6_key(endpoint.ip6));
    if (!ep) {
        return "no endpoint entry for " + endpoint.ip6.str();
    }
    if (std::string drift = entry_drift(*ep, endpoint.ip6, endpoint); !drift.empty()) {
        return drift;
    }
    return attach_check(endpoint.host_ifindex, endpoint.host_ifname, ep->attach_mode);
}

std::string Node::check(const Endpoint& endpoint) const {
    if (endpoint.ip.empty() && !endpoint.ip6.empty()) {
        return check_ipv6_only(endpoint);
    }
    uint32_t ip = ipv4_of(endpoint.ip);
    auto ep = table().find(ip);
    if (!ep) {
        return "no endpoint entry for " + endpoint.ip.str();
    }
    if (std::string drift = entry_drift(*ep, endpoint.ip, endpoint); !drift.empty()) {
        return drift;
    }
    if (std::string drift = check_ipv6(endpoint); !drift.empty()) {
        return drift;
    }
    return attach_check(endpoint.host_ifindex, endpoint.host_ifname, ep->attach_mode);
}

// An attachment as an endpoint entry (`entry`: its host ifindex and attach mode; either
// family) and the host veth name recorded with it say it is.
Attachment Node::attachment_of(const IpAddress& pod_ip, std::optional<EntryHook> entry,
                               const std::string& meta_ifname) const {
    Attachment a;
    a.pod_ip = pod_ip;
    if (!entry) {
        a.ifname = meta_ifname;
        a.detail = "no endpoint entry";
        return a;
    }
    a.ifindex = static_cast<int>(entry->ifindex);
    a.ifname = ifname_of(a.ifindex);
    a.mode = attach_mode_of_value(entry->attach_mode);
    a.detail =
        a.ifname.empty() ? "device gone" : attach_check(a.ifindex, a.ifname, entry->attach_mode);
    a.attached = a.detail.empty();
    return a;
}

namespace {

template <class Entry>
std::optional<Node::EntryHook> hook_of(const std::optional<Entry>& ep) {
    if (!ep) {
        return std::nullopt;
    }
    return Node::EntryHook{ep->ifindex, ep->attach_mode};
}

std::string recorded_ifname(int meta_fd, const auto& key) {
    auto meta = lookup<shuttle_endpoint_meta>(meta_fd, key);
    return meta ? field_string(meta->host_ifname) : "";
}

}  // namespace

std::vector<Attachment> Node::attachments() const {
    std::vector<Attachment> out;
    int meta_fd = map_fd("endpoint_meta");
    for (uint32_t ip : keys<uint32_t>(meta_fd)) {
        out.push_back(
            attachment_of(ip_of(ip), hook_of(table().find(ip)), recorded_ifname(meta_fd, ip)));
    }
    if (!has_ipv6_only_maps()) {
        return out;
    }
    int meta6_fd = map_fd("endpoint_meta6");
    for (const shuttle_ip6& key : keys<shuttle_ip6>(meta6_fd)) {
        out.push_back(attachment_of(ipv6_of(key.addr), hook_of(table6().find(key)),
                                    recorded_ifname(meta6_fd, key)));
    }
    return out;
}

}  // namespace shuttle::datapath
