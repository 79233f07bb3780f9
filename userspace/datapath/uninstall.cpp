// Node::uninstall(): every program off every device, every pin gone.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "datapath/attach.h"
#include "datapath/bpffs.h"
#include "datapath/datapath.h"
#include "datapath/libbpf_log.h"
#include "datapath/pin_layout.h"

namespace shuttle::datapath {

namespace {

// Every cls_bpf filter running one of shuttle's programs in this network namespace, found
// by program name, so filters whose map entries were lost go too.
void remove_tc_filters() {
    std::unique_ptr<struct if_nameindex, void (*)(struct if_nameindex*)> links(::if_nameindex(),
                                                                               ::if_freenameindex);
    for (const struct if_nameindex* l = links.get(); l && l->if_index != 0; ++l) {
        for (Hook hook : {Hook::Ingress, Hook::Egress}) {
            auto id = tc_prog_id(static_cast<int>(l->if_index), hook);
            if (id && is_shuttle_program(*id)) {
                tc_detach(static_cast<int>(l->if_index), hook);
            }
        }
    }
}

// Every TCX link pinned under any layout version's links/ directory.
void detach_pinned_links(const std::string& root) {
    for (const std::string& version : list_dir(root)) {
        std::string links = root + "/" + version + "/links";
        for (const std::string& hook_dir : list_dir(links)) {
            for (const std::string& name : list_dir(links + "/" + hook_dir)) {
                if (UniqueFd link = open_pin(links + "/" + hook_dir + "/" + name)) {
                    bpf_link_detach(link.get());
                }
            }
        }
    }
}

}  // namespace

void Node::uninstall(const Options& options) {
    install_libbpf_print();
    if (!path_exists(options.bpffs_root)) {
        remove_tc_filters();
        return;
    }
    {
        DirLock lock(options.bpffs_root);
        detach_pinned_links(options.bpffs_root);
        remove_tc_filters();
        for (const std::string& name : list_dir(options.bpffs_root)) {
            std::error_code ignored;
            std::filesystem::remove_all(options.bpffs_root + "/" + name, ignored);
            if (ignored) {
                throw std::system_error(ignored, "remove " + options.bpffs_root + "/" + name);
            }
        }
    }
    // The root itself, unless it is a mount point (a test's bpffs): EBUSY is fine.
    ::rmdir(options.bpffs_root.c_str());
}

}  // namespace shuttle::datapath
