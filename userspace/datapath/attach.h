#pragma once

// Attaching one program at tc ingress of a device: TCX links (kernel >= 6.6; raw syscall,
// libbpf 1.1 has no TCX API) or clsact + direct-action cls_bpf (libbpf's bpf_tc_*).

#include <cstdint>
#include <optional>
#include <string>

#include "common/unique_fd.h"

namespace shuttle::datapath {

// What a pinned TCX link points at.
struct TcxLinkInfo {
    uint32_t prog_id = 0;
    uint32_t ifindex = 0;  // 0 once the device is gone (defunct link)
    bool is_tcx = false;
};

enum class Hook { Ingress, Egress };

// BPF_LINK_CREATE with BPF_TCX_INGRESS/EGRESS. An invalid fd with errno set on failure.
UniqueFd tcx_attach(int prog_fd, int ifindex, Hook hook);
TcxLinkInfo tcx_link_info(int link_fd);
void link_update(int link_fd, int new_prog_fd);
// errno of a failed tcx_attach_ingress that means "this kernel has no TCX".
bool means_no_tcx(int err);

// The cls_bpf filter shuttle owns: handle 1, priority 1 on a clsact hook.
void tc_attach(int prog_fd, int ifindex, Hook which);  // creates clsact if missing; replaces
void tc_detach(int ifindex, Hook which);               // missing filter or device is fine
std::optional<uint32_t> tc_prog_id(int ifindex, Hook which);

uint32_t prog_id(int prog_fd);

// The device's name, "" when no device has this index.
std::string ifname_of(int ifindex);

}  // namespace shuttle::datapath
