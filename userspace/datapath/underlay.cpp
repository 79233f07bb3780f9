// The node's underlay interface: from_underlay at its ingress (decapsulation of VXLAN for the
// node's pods) and the direct overlay's settings in node_config (set_underlay).
#include <bpf/bpf.h>
#include <net/if.h>

#include <algorithm>
#include <stdexcept>

#include "common/system_error.h"
#include "datapath/attach.h"
#include "datapath/bpffs.h"
#include "datapath/datapath.h"
#include "datapath/pin_layout.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {
namespace {

// shuttle's cls_bpf filter at the underlay's ingress, and only that: the interface is the
// host's, and other agents' filters stay.
void remove_own_tc_filter(int ifindex) {
    auto attached = tc_prog_id(ifindex, kUnderlayHook.hook);
    if (attached && is_shuttle_program(*attached)) {
        tc_detach(ifindex, kUnderlayHook.hook);
    }
}

}  // namespace

void Node::set_underlay(const UnderlayConfig& underlay) {
    if (underlay.mode == OverlayMode::direct && underlay.ifindex <= 0) {
        throw std::invalid_argument("the direct overlay needs the underlay interface's ifindex");
    }
    if (underlay.vxlan_port == 0) {
        throw std::invalid_argument("VXLAN port 0");
    }
    DirLock lock(options_.bpffs_root);
    NodeConfig cfg = config();
    if (cfg.underlay == underlay) {
        return;
    }
    cfg.underlay = underlay;
    set_config(cfg);
}

void Node::attach_underlay(int ifindex, const std::string& ifname) {
    if (ifindex <= 0 || ifname.empty() || ifname.size() >= IF_NAMESIZE) {
        throw std::invalid_argument(
            "attach_underlay needs the underlay interface's ifindex and name");
    }
    DirLock lock(options_.bpffs_root);
    follow_replaced_programs();  // shuttled's Node may predate a newer build's ensure()
    const int prog = program_fd(kUnderlayHook.program);
    const std::string path = link_pin_of(pin_dir_, kUnderlayHook, ifname);
    if (UniqueFd existing = open_pin(path)) {
        TcxLinkInfo info = tcx_link_info(existing.get());
        if (info.is_tcx && info.ifindex == static_cast<uint32_t>(ifindex)) {
            if (info.prog_id != prog_id(prog)) {
                link_update(existing.get(), prog);
            }
            return;
        }
        bpf_link_detach(existing.get());  // a link of an older interface with this name
        unpin(path);
    }
    if (UniqueFd link = tcx_attach(prog, ifindex, kUnderlayHook.hook)) {
        pin(link.get(), path);
        remove_own_tc_filter(ifindex);  // of a tc fallback earlier
        return;
    }
    int err = errno;
    if (!means_no_tcx(err)) {
        throw system_error(err, "attach TCX on " + ifname);
    }
    tc_attach(prog, ifindex, kUnderlayHook.hook);
}

void Node::detach_underlay(const std::string& ifname) {
    DirLock lock(options_.bpffs_root);
    follow_replaced_programs();
    const std::string path = link_pin_of(pin_dir_, kUnderlayHook, ifname);
    if (UniqueFd link = open_pin(path)) {
        bpf_link_detach(link.get());
        unpin(path);
    }
    int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (ifindex > 0) {
        remove_own_tc_filter(ifindex);
    }
}

std::optional<Attachment> Node::underlay_attachment() const {
    NodeConfig cfg = config();
    if (cfg.underlay.ifindex == 0) {
        return std::nullopt;
    }
    Attachment a;
    a.ifindex = cfg.underlay.ifindex;
    a.ifname = ifname_of(a.ifindex);
    if (a.ifname.empty()) {
        a.detail = "device gone";
        return a;
    }
    if (!has_program(kUnderlayHook.program)) {
        a.detail = "from_underlay not pinned (pins of an older build; ensure() loads it)";
        return a;
    }
    bool tcx = path_exists(link_pin_of(pin_dir_, kUnderlayHook, a.ifname));
    a.mode = tcx ? AttachMode::Tcx : AttachMode::Tc;
    a.detail = hook_check(kUnderlayHook, a.ifindex, a.ifname,
                          tcx ? SHUTTLE_ATTACH_TCX : SHUTTLE_ATTACH_TC);
    a.attached = a.detail.empty();
    return a;
}

}  // namespace shuttle::datapath
