#include "datapath/pin_layout.h"

#include <bpf/bpf.h>
#include <dirent.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "common/unique_fd.h"

namespace shuttle::datapath {

std::string pin_dir_of(const std::string& bpffs_root, uint32_t layout) {
    return bpffs_root + "/v" + std::to_string(layout);
}

std::vector<uint32_t> pinned_layouts(const std::string& bpffs_root) {
    std::vector<uint32_t> out;
    for (const std::string& name : list_dir(bpffs_root)) {
        if (name.size() < 2 || name.size() > 9 || name[0] != 'v' ||
            name.find_first_not_of("0123456789", 1) != std::string::npos) {
            continue;
        }
        std::string dir = bpffs_root + "/" + name;
        if (!list_dir(maps_dir(dir)).empty() || !list_dir(dir + "/progs").empty()) {
            out.push_back(static_cast<uint32_t>(std::stoul(name.substr(1))));
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string maps_dir(const std::string& pin_dir) {
    return pin_dir + "/maps";
}
std::string map_pin(const std::string& pin_dir, const std::string& name) {
    return maps_dir(pin_dir) + "/" + name;
}
std::string prog_pin(const std::string& pin_dir, const HookSpec& spec) {
    return pin_dir + "/progs/" + spec.program;
}
std::string links_dir(const std::string& pin_dir, const HookSpec& spec) {
    return pin_dir + "/links/" + spec.links_subdir;
}
std::string link_pin_of(const std::string& pin_dir, const HookSpec& spec,
                        const std::string& ifname) {
    std::string name = ifname;
    std::replace(name.begin(), name.end(), '.', '-');
    return links_dir(pin_dir, spec) + "/" + name;
}

bool is_shuttle_program(uint32_t id) {
    UniqueFd fd(bpf_prog_get_fd_by_id(id));
    if (!fd) {
        return false;
    }
    bpf_prog_info info;
    std::memset(&info, 0, sizeof info);
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) {
        return false;
    }
    return std::any_of(std::begin(kAllHooks), std::end(kAllHooks), [&](const HookSpec& spec) {
        return std::strcmp(info.name, spec.program) == 0;
    });
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> names;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) {
        return names;
    }
    while (dirent* e = ::readdir(d.get())) {
        if (e->d_name[0] != '.') {
            names.emplace_back(e->d_name);
        }
    }
    return names;
}

}  // namespace shuttle::datapath
