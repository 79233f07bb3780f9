// Programs on devices: a pod's host veth (attach, detach) and the node's VXLAN device, by TCX
// link or cls_bpf filter. Whether they are still there: attachment_check.cpp.
#include <net/if.h>

#include <algorithm>
#include <stdexcept>

#include "common/fault_point.h"
#include "common/system_error.h"
#include "datapath/abi_values.h"
#include "datapath/attach.h"
#include "datapath/bpffs.h"
#include "datapath/datapath.h"
#include "datapath/map_access.h"
#include "datapath/pin_layout.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {

AttachMode parse_attach_mode(const std::string& text) {
    if (text == "auto") {
        return AttachMode::Auto;
    }
    if (text == "tcx") {
        return AttachMode::Tcx;
    }
    if (text == "tc") {
        return AttachMode::Tc;
    }
    throw std::invalid_argument("attach must be auto, tcx or tc, not \"" + text + "\"");
}

std::string to_string(AttachMode mode) {
    switch (mode) {
        case AttachMode::Auto:
            return "auto";
        case AttachMode::Tcx:
            return "tcx";
        case AttachMode::Tc:
            return "tc";
    }
    return "?";
}

EndpointTable Node::table() const {
    return EndpointTable(map_fd("endpoints"), map_fd("node_config"));
}

EndpointTable6 Node::table6() const {
    return EndpointTable6(map_fd("endpoints6"), map_fd("endpoints6_hash"), map_fd("node_config6"));
}

bool Node::has_ipv6_maps() const {
    return std::any_of(maps_.begin(), maps_.end(),
                       [](const auto& m) { return m.first == "endpoints6_hash"; });
}

bool Node::has_ipv6_only_maps() const {
    return std::any_of(maps_.begin(), maps_.end(),
                       [](const auto& m) { return m.first == "endpoint_meta6"; });
}

namespace {

shuttle_endpoint6 endpoint6_of(const Endpoint& endpoint) {
    shuttle_endpoint6 ep{};
    ep.ifindex = static_cast<uint32_t>(endpoint.host_ifindex);
    copy_ipv6(ep.pod_ip, endpoint.ip6);
    copy_mac(ep.pod_mac, endpoint.pod_mac);
    copy_mac(ep.host_mac, endpoint.host_mac);
    return ep;
}

shuttle_endpoint_meta meta_of(const Endpoint& endpoint) {
    shuttle_endpoint_meta meta{};
    set_field_string(meta.container_id, endpoint.container_id);
    set_field_string(meta.ifname, endpoint.ifname);
    set_field_string(meta.host_ifname, endpoint.host_ifname);
    set_field_string(meta.pod_namespace, endpoint.pod_namespace);
    set_field_string(meta.pod_name, endpoint.pod_name);
    return meta;
}

}  // namespace

// The pod's IPv6 entry, once the node has an IPv6 network (set_pod_network6): before, the
// programs pass IPv6 unchecked, and set_pod_network6's change makes the caller re-attach.
void Node::attach_ipv6(const Endpoint& endpoint) {
    if (endpoint.ip6.empty() || !has_ipv6_maps() || !table6().configured()) {
        return;
    }
    shuttle_ip6 key = ip6_key(endpoint.ip6);
    shuttle_endpoint6 ep = endpoint6_of(endpoint);
    auto previous = table6().find(key);
    if (previous && previous->ifindex == ep.ifindex) {
        ep.flags = previous->flags;
    }
    table6().put(key, ep);
}

// A pod without IPv4 (an IPv6-only network): its endpoints6 entry holds the attach mode and
// endpoint_meta6 its names, as the endpoints slot and endpoint_meta do for a pod with IPv4.
// The node's IPv6 network must be set: without it the programs would pass IPv6 unchecked.
void Node::attach_ipv6_only(const Endpoint& endpoint) {
    DirLock lock(options_.bpffs_root);
    follow_replaced_programs();
    if (!has_ipv6_only_maps() || !table6().configured()) {
        throw std::invalid_argument(
            "an IPv6-only endpoint needs the node's IPv6 pod network in "
            "the datapath's config (set_pod_network6 first)");
    }
    shuttle_ip6 key = ip6_key(endpoint.ip6);
    shuttle_endpoint6 ep = endpoint6_of(endpoint);
    auto previous = table6().find(key);
    if (previous && previous->ifindex == ep.ifindex) {
        ep.attach_mode = previous->attach_mode;
        ep.flags = previous->flags;
    }
    table6().put(key, ep);
    update(map_fd("endpoint_meta6"), key, meta_of(endpoint));
    fault_point("attach-after-endpoint");

    AttachMode mode = attach_programs(endpoint.host_ifindex, endpoint.host_ifname, false,
                                      endpoint.attach.value_or(options_.attach));
    ep.attach_mode = attach_mode_value(mode);
    table6().put(key, ep);
}

void Node::attach(const Endpoint& endpoint) {
    if (endpoint.host_ifindex <= 0 || endpoint.host_ifname.empty() ||
        endpoint.host_ifname.size() >= IF_NAMESIZE) {
        throw std::invalid_argument("endpoint needs the host veth's ifindex and name");
    }
    if (endpoint.ip.empty() && !endpoint.ip6.empty()) {
        attach_ipv6_only(endpoint);
        return;
    }
    uint32_t ip = ipv4_of(endpoint.ip);
    DirLock lock(options_.bpffs_root);  // an upgrade carries the maps while holding it
    follow_replaced_programs();
    attach_ipv6(endpoint);

    shuttle_endpoint ep{};
    ep.ifindex = static_cast<uint32_t>(endpoint.host_ifindex);
    ep.pod_ip = ip;
    copy_mac(ep.pod_mac, endpoint.pod_mac);
    copy_mac(ep.host_mac, endpoint.host_mac);
    auto previous = table().find(ip);
    if (previous && previous->ifindex == ep.ifindex) {
        ep.attach_mode = previous->attach_mode;
        ep.flags = previous->flags;
    }
    table().put(ip, ep);
    update(map_fd("endpoint_meta"), ip, meta_of(endpoint));
    fault_point("attach-after-endpoint");

    AttachMode mode = attach_programs(endpoint.host_ifindex, endpoint.host_ifname, false,
                                      endpoint.attach.value_or(options_.attach));
    ep.attach_mode = attach_mode_value(mode);
    table().put(ip, ep);
}

AttachMode Node::attach_programs(int ifindex, const std::string& ifname, bool overlay,
                                 AttachMode mode) {
    bool use_tcx = mode != AttachMode::Tc;
    for (const HookSpec& spec : hooks_of(overlay)) {
        const int prog = program_fd(spec.program);
        const std::string path = link_pin_of(pin_dir_, spec, ifname);
        UniqueFd existing = open_pin(path);
        if (existing) {
            TcxLinkInfo info = tcx_link_info(existing.get());
            if (use_tcx && info.is_tcx && info.ifindex == static_cast<uint32_t>(ifindex)) {
                if (info.prog_id != prog_id(prog)) {
                    link_update(existing.get(), prog);
                }
                continue;
            }
            // A link of an older veth with this name, or this veth switching to tc.
            bpf_link_detach(existing.get());
            unpin(path);
        }
        if (use_tcx) {
            UniqueFd link = tcx_attach(prog, ifindex, spec.hook);
            if (link) {
                pin(link.get(), path);
                continue;
            }
            int err = errno;
            if (mode == AttachMode::Tcx || spec.hook != Hook::Ingress || !means_no_tcx(err)) {
                throw system_error(err, "attach TCX on " + ifname);
            }
            use_tcx = false;  // auto, and this kernel has no TCX: tc for both hooks
        }
        tc_attach(prog, ifindex, spec.hook);
    }
    return use_tcx ? AttachMode::Tcx : AttachMode::Tc;
}

void Node::detach_programs(int ifindex, const std::string& ifname, bool maybe_tc, bool overlay) {
    for (const HookSpec& spec : hooks_of(overlay)) {
        std::string path = link_pin_of(pin_dir_, spec, ifname);
        if (UniqueFd link = open_pin(path)) {
            bpf_link_detach(link.get());
            unpin(path);
        }
    }
    if (maybe_tc && ifindex > 0 && ifname_of(ifindex) == ifname) {
        for (const HookSpec& spec : hooks_of(overlay)) {
            tc_detach(ifindex, spec.hook);
        }
    }
}

// An IPv6 address: its entry; and for an IPv6-only pod (endpoint_meta6 names it, or its entry
// holds an attach mode) the programs and names too. A pod with IPv4 keeps its programs until
// its IPv4 address's detach (or the veth's deletion).
void Node::detach_ipv6(const std::string& host_ifname, const IpAddress& ip_address) {
    DirLock lock(options_.bpffs_root);
    follow_replaced_programs();
    if (!has_ipv6_maps()) {
        return;
    }
    shuttle_ip6 key = ip6_key(ip_address);
    auto ep = table6().find(key);
    if (has_ipv6_only_maps()) {
        auto meta = lookup<shuttle_endpoint_meta>(map_fd("endpoint_meta6"), key);
        if (meta || (ep && ep->attach_mode != SHUTTLE_ATTACH_NONE)) {
            std::string ifname =
                host_ifname.empty() && meta ? field_string(meta->host_ifname) : host_ifname;
            int ifindex = ep ? static_cast<int>(ep->ifindex)
                             : static_cast<int>(if_nametoindex(ifname.c_str()));
            if (!ifname.empty()) {
                detach_programs(ifindex, ifname, !ep || ep->attach_mode != SHUTTLE_ATTACH_TCX,
                                false);
            }
            erase(map_fd("endpoint_meta6"), key);
        }
    }
    table6().clear(key);
}

void Node::detach(const std::string& host_ifname, const IpAddress& ip_address) {
    if (!ip_address.is_v4()) {
        detach_ipv6(host_ifname, ip_address);
        return;
    }
    uint32_t ip = ipv4_of(ip_address);
    DirLock lock(options_.bpffs_root);
    follow_replaced_programs();
    auto ep = table().find(ip);
    std::string ifname = host_ifname;
    if (ifname.empty()) {  // a caller without a record: the name the entry was written with
        auto meta = lookup<shuttle_endpoint_meta>(map_fd("endpoint_meta"), ip);
        ifname = meta ? field_string(meta->host_ifname) : "";
    }
    int ifindex =
        ep ? static_cast<int>(ep->ifindex) : static_cast<int>(if_nametoindex(ifname.c_str()));
    bool maybe_tc = !ep || ep->attach_mode != SHUTTLE_ATTACH_TCX;
    if (!ifname.empty())
        detach_programs(ifindex, ifname, maybe_tc, false);
    table().clear(ip);
    erase(map_fd("endpoint_meta"), ip);
}

void Node::attach_overlay(int vxlan_ifindex, const std::string& vxlan_ifname) {
    if (vxlan_ifindex <= 0 || vxlan_ifname.empty() || vxlan_ifname.size() >= IF_NAMESIZE) {
        throw std::invalid_argument("attach_overlay needs the VXLAN device's ifindex and name");
    }
    DirLock lock(options_.bpffs_root);
    follow_replaced_programs();  // shuttled's Node may predate a newer build's ensure()
    attach_programs(vxlan_ifindex, vxlan_ifname, true, options_.attach);
    // from_pod redirects to this device, and ensure() finds its filters for upgrades here.
    NodeConfig cfg = config();
    if (cfg.vxlan_ifindex != vxlan_ifindex) {
        cfg.vxlan_ifindex = vxlan_ifindex;
        set_config(cfg);
    }
}

void Node::detach_overlay(const std::string& vxlan_ifname) {
    DirLock lock(options_.bpffs_root);
    follow_replaced_programs();
    int ifindex = static_cast<int>(if_nametoindex(vxlan_ifname.c_str()));
    detach_programs(ifindex, vxlan_ifname, true, true);
    // Without a device to redirect to, from_pod hands remote traffic to the stack.
    NodeConfig cfg = config();
    if (cfg.vxlan_ifindex != 0 &&
        (cfg.vxlan_ifindex == ifindex || ifname_of(cfg.vxlan_ifindex).empty())) {
        cfg.vxlan_ifindex = 0;
        set_config(cfg);
    }
}

std::optional<Attachment> Node::overlay_attachment() const {
    NodeConfig cfg = config();
    if (cfg.vxlan_ifindex == 0) {
        return std::nullopt;
    }
    Attachment a;
    a.ifindex = cfg.vxlan_ifindex;
    a.ifname = ifname_of(a.ifindex);
    if (a.ifname.empty()) {
        a.detail = "device gone";
        return a;
    }
    if (!has_program("from_overlay")) {
        a.detail = "no overlay programs pinned (pins of an older build; ensure() loads them)";
        return a;
    }
    bool tcx = path_exists(link_pin_of(pin_dir_, kOverlayHooks[0], a.ifname));
    a.mode = tcx ? AttachMode::Tcx : AttachMode::Tc;
    a.detail =
        attach_check(a.ifindex, a.ifname, tcx ? SHUTTLE_ATTACH_TCX : SHUTTLE_ATTACH_TC, true);
    a.attached = a.detail.empty();
    return a;
}

}  // namespace shuttle::datapath
