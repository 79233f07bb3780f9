// Swapping a new build's programs in where the old ones run: every pod's host veth, the VXLAN
// device and the underlay interface, by BPF_LINK_UPDATE (TCX) or a same-handle cls_bpf
// replace. Atomic per device: each packet sees the old program or the new one.
#include "datapath/program_swap.h"

#include "common/unique_fd.h"
#include "datapath/attach.h"
#include "datapath/bpffs.h"
#include "datapath/map_access.h"
#include "datapath/pin_layout.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {

namespace {

// BPF_LINK_UPDATE on each pinned TCX link of `spec`'s hook; unpins defunct ones.
void update_pinned_links(const std::string& pin_dir, const HookSpec& spec, int new_prog_fd) {
    for (const std::string& name : list_dir(links_dir(pin_dir, spec))) {
        std::string path = links_dir(pin_dir, spec) + "/" + name;
        UniqueFd link = open_pin(path);
        if (!link) {
            continue;
        }
        if (tcx_link_info(link.get()).ifindex == 0) {
            unpin(path);  // the device is gone: a defunct link
            continue;
        }
        link_update(link.get(), new_prog_fd);
    }
}

}  // namespace

void replace_on_pods(const std::string& pin_dir, const HookSpec& spec,
                     const std::vector<int>& tc_pods, int new_prog_fd) {
    update_pinned_links(pin_dir, spec, new_prog_fd);
    for (int ifindex : tc_pods) {
        if (!ifname_of(ifindex).empty()) {
            tc_attach(new_prog_fd, ifindex, spec.hook);
        }
    }
}

void replace_on_overlay(const std::string& pin_dir, const HookSpec& spec, int config_fd,
                        int new_prog_fd) {
    update_pinned_links(pin_dir, spec, new_prog_fd);
    auto cfg = lookup<shuttle_config>(config_fd, uint32_t{0});
    int ifindex = cfg ? static_cast<int>(cfg->vxlan_ifindex) : 0;
    if (ifindex > 0 && tc_prog_id(ifindex, spec.hook)) {
        tc_attach(new_prog_fd, ifindex, spec.hook);
    }
}

void replace_on_underlay(const std::string& pin_dir, int config_fd, int new_prog_fd) {
    update_pinned_links(pin_dir, kUnderlayHook, new_prog_fd);
    auto cfg = lookup<shuttle_config>(config_fd, uint32_t{0});
    int ifindex = cfg ? static_cast<int>(cfg->underlay_ifindex) : 0;
    auto attached = ifindex > 0 ? tc_prog_id(ifindex, kUnderlayHook.hook) : std::nullopt;
    if (attached && is_shuttle_program(*attached)) {
        tc_attach(new_prog_fd, ifindex, kUnderlayHook.hook);
    }
}

void move_older_links(const std::string& pin_dir, const std::vector<std::string>& older_dirs) {
    for (const std::string& old_dir : older_dirs) {
        for (const HookSpec& spec : kAllHooks) {
            for (const std::string& name : list_dir(links_dir(old_dir, spec))) {
                std::string from = links_dir(old_dir, spec) + "/" + name;
                std::string to = links_dir(pin_dir, spec) + "/" + name;
                if (UniqueFd link = open_pin(from)) {
                    unpin(to);
                    pin(link.get(), to);
                }
                unpin(from);
            }
        }
    }
}

}  // namespace shuttle::datapath
