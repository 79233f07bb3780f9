#include "datapath/pin_layout.h"

#include <dirent.h>

#include <algorithm>
#include <memory>

#include "shuttle_abi.h"

namespace shuttle::datapath {

std::string pin_dir_of(const std::string& bpffs_root) {
    return bpffs_root + "/v" + std::to_string(SHUTTLE_LAYOUT_VERSION);
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
