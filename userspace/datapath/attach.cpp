#include "datapath/attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/system_error.h"
#include "datapath/bpffs.h"

namespace shuttle::datapath {
namespace {

// From the kernel's uapi (6.6+); Debian 12's headers predate TCX.
constexpr uint32_t kBpfTcxIngress = 46;
constexpr uint32_t kBpfTcxEgress = 47;
constexpr uint32_t kBpfLinkTypeTcx = 11;

constexpr uint32_t kTcHandle = 1;
constexpr uint32_t kTcPriority = 1;

bpf_tc_attach_point tc_point(Hook hook) {
    return hook == Hook::Ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

std::string where(int ifindex, Hook hook) {
    return std::string(hook == Hook::Ingress ? "ingress" : "egress") + " of ifindex " +
           std::to_string(ifindex);
}

}  // namespace

UniqueFd tcx_attach(int prog_fd, int ifindex, Hook hook) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.link_create.prog_fd = static_cast<uint32_t>(prog_fd);
    attr.link_create.target_fd = static_cast<uint32_t>(ifindex);  // target_ifindex in 6.6+
    attr.link_create.attach_type = hook == Hook::Ingress ? kBpfTcxIngress : kBpfTcxEgress;
    long fd = ::syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof attr);
    return UniqueFd(fd < 0 ? -1 : static_cast<int>(fd));
}

bool means_no_tcx(int err) {
    constexpr int kKernelEnotsupp = 524;  // internal ENOTSUPP, seen by userspace at times
    return err == EINVAL || err == EOPNOTSUPP || err == kKernelEnotsupp;
}

TcxLinkInfo tcx_link_info(int link_fd) {
    auto info = object_info<bpf_link_info>(link_fd, "link info");
    TcxLinkInfo out;
    out.prog_id = info.prog_id;
    out.is_tcx = info.type == kBpfLinkTypeTcx;
    // The tcx member {ifindex, attach_type} starts where the older xdp {ifindex} does.
    out.ifindex = info.xdp.ifindex;
    return out;
}

void link_update(int link_fd, int new_prog_fd) {
    if (bpf_link_update(link_fd, new_prog_fd, nullptr) != 0) {
        throw_errno("BPF_LINK_UPDATE");
    }
}

void tc_attach(int prog_fd, int ifindex, Hook which) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = tc_point(which));
    int err = bpf_tc_hook_create(&hook);
    if (err && err != -EEXIST) {
        throw system_error(-err, "create clsact on ifindex " + std::to_string(ifindex));
    }
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE,
                .handle = kTcHandle, .priority = kTcPriority);
    err = bpf_tc_attach(&hook, &opts);
    if (err) {
        throw system_error(-err, "attach cls_bpf at " + where(ifindex, which));
    }
}

void tc_detach(int ifindex, Hook which) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = tc_point(which));
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
    int err = bpf_tc_detach(&hook, &opts);
    if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL) {
        throw system_error(-err, "detach cls_bpf at " + where(ifindex, which));
    }
}

std::optional<uint32_t> tc_prog_id(int ifindex, Hook which) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = tc_point(which));
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
    if (bpf_tc_query(&hook, &opts) != 0) {
        return std::nullopt;
    }
    return opts.prog_id;
}

uint32_t prog_id(int prog_fd) {
    return object_info<bpf_prog_info>(prog_fd, "program info").id;
}

std::string ifname_of(int ifindex) {
    char name[IF_NAMESIZE] = {};
    return if_indextoname(static_cast<unsigned>(ifindex), name) ? name : "";
}

}  // namespace shuttle::datapath
