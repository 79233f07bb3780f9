// Node::ensure() and what it needs: loading and verifying the BPF object, reusing or creating
// the pinned maps, swapping new programs in on every attachment, the build-hash fast path;
// and opening the pins of a node that has them.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "common/system_error.h"
#include "datapath/attach.h"
#include "datapath/bpffs.h"
#include "datapath/datapath.h"
#include "datapath/libbpf_log.h"
#include "datapath/map_access.h"
#include "datapath/pin_layout.h"
#include "shuttle.hash.h"
#include "shuttle.skel.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {
namespace {

struct SkelDeleter {
    void operator()(shuttle_bpf* s) const { shuttle_bpf__destroy(s); }
};
using Skeleton = std::unique_ptr<shuttle_bpf, SkelDeleter>;

// A pinned map must have exactly the layout this build was compiled with: libbpf's
// reuse_fd would silently adopt whatever sizes the pin has.
void require_same_layout(const bpf_map* wanted, int pinned_fd, const std::string& path) {
    bpf_map_info info;
    std::memset(&info, 0, sizeof info);
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(pinned_fd, &info, &len) != 0) {
        throw_errno("map info " + path);
    }
    if (info.type != static_cast<uint32_t>(bpf_map__type(wanted)) ||
        info.key_size != bpf_map__key_size(wanted) ||
        info.value_size != bpf_map__value_size(wanted) ||
        info.max_entries != bpf_map__max_entries(wanted) ||
        info.map_flags != bpf_map__map_flags(wanted)) {
        char what[256];
        std::snprintf(what, sizeof what,
                      "pinned map %s has type %u key %u value %u entries %u flags %u; this build "
                      "expects type %u key %u value %u entries %u flags %u (a layout change needs "
                      "a new SHUTTLE_LAYOUT_VERSION)",
                      path.c_str(), info.type, info.key_size, info.value_size, info.max_entries,
                      info.map_flags, bpf_map__type(wanted), bpf_map__key_size(wanted),
                      bpf_map__value_size(wanted), bpf_map__max_entries(wanted),
                      bpf_map__map_flags(wanted));
        throw std::runtime_error(what);
    }
}

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

// Points every existing attachment of a pod hook at `new_prog_fd`: BPF_LINK_UPDATE on each
// pinned TCX link, a same-handle replace of each cls_bpf filter. Atomic per device.
void replace_on_pods(const std::string& pin_dir, const HookSpec& spec, const EndpointTable& table,
                     int meta_fd, int new_prog_fd) {
    update_pinned_links(pin_dir, spec, new_prog_fd);
    for (uint32_t ip : keys<uint32_t>(meta_fd)) {
        auto ep = table.find(ip);
        if (ep && ep->attach_mode == SHUTTLE_ATTACH_TC &&
            !ifname_of(static_cast<int>(ep->ifindex)).empty()) {
            tc_attach(new_prog_fd, static_cast<int>(ep->ifindex), spec.hook);
        }
    }
}

// The same for the VXLAN device of node_config (its cls_bpf filter, if it has one).
void replace_on_overlay(const std::string& pin_dir, const HookSpec& spec, int config_fd,
                        int new_prog_fd) {
    update_pinned_links(pin_dir, spec, new_prog_fd);
    auto cfg = lookup<shuttle_config>(config_fd, uint32_t{0});
    int ifindex = cfg ? static_cast<int>(cfg->vxlan_ifindex) : 0;
    if (ifindex > 0 && tc_prog_id(ifindex, spec.hook)) {
        tc_attach(new_prog_fd, ifindex, spec.hook);
    }
}

// The same for the underlay interface: its TCX link, or shuttle's own cls_bpf filter there
// (the interface is shared: another agent's filter is never replaced).
void replace_on_underlay(const std::string& pin_dir, int config_fd, int new_prog_fd) {
    update_pinned_links(pin_dir, kUnderlayHook, new_prog_fd);
    auto cfg = lookup<shuttle_config>(config_fd, uint32_t{0});
    int ifindex = cfg ? static_cast<int>(cfg->underlay_ifindex) : 0;
    auto attached = ifindex > 0 ? tc_prog_id(ifindex, kUnderlayHook.hook) : std::nullopt;
    if (attached && is_shuttle_program(*attached)) {
        tc_attach(new_prog_fd, ifindex, kUnderlayHook.hook);
    }
}

struct LoadResult {
    bool maps_created = false;
};

// The slow path: verify the program, reuse or create the maps, pin, swap the program on
// every attachment, then record the build. Runs under the pin-root lock.
LoadResult load_and_pin(const std::string& pin_dir) {
    LoadResult result;
    Skeleton skel(shuttle_bpf__open());
    if (!skel) {
        throw_errno("open BPF object from_pod");
    }
    std::vector<bpf_map*> created;
    bpf_map* map;
    bpf_object__for_each_map(map, skel->obj) {
        if (bpf_map__is_internal(map)) {
            continue;  // .rodata: per program, never shared
        }
        std::string path = map_pin(pin_dir, bpf_map__name(map));
        UniqueFd pinned = open_pin(path);
        if (!pinned) {
            created.push_back(map);
            continue;
        }
        require_same_layout(map, pinned.get(), path);
        if (int err = bpf_map__reuse_fd(map, pinned.get())) {
            throw system_error(-err, "reuse " + path);
        }
    }
    if (int err = shuttle_bpf__load(skel.get())) {
        throw system_error(-err, "load (verify) BPF program from_pod");
    }
    for (bpf_map* m : created) {
        pin(bpf_map__fd(m), map_pin(pin_dir, bpf_map__name(m)));
        result.maps_created = true;
    }

    // Stage the new programs' pins, swap them in on every device, then move the pins.
    EndpointTable table(bpf_map__fd(skel->maps.endpoints), bpf_map__fd(skel->maps.node_config));
    for (const HookSpec& spec : kAllHooks) {
        int fd = bpf_program__fd(bpf_object__find_program_by_name(skel->obj, spec.program));
        std::string staged = prog_pin(pin_dir, spec) + "_new";
        unpin(staged);
        pin(fd, staged);
    }
    for (const HookSpec& spec : kPodHooks) {
        int fd = bpf_program__fd(bpf_object__find_program_by_name(skel->obj, spec.program));
        replace_on_pods(pin_dir, spec, table, bpf_map__fd(skel->maps.endpoint_meta), fd);
    }
    for (const HookSpec& spec : kOverlayHooks) {
        int fd = bpf_program__fd(bpf_object__find_program_by_name(skel->obj, spec.program));
        replace_on_overlay(pin_dir, spec, bpf_map__fd(skel->maps.node_config), fd);
    }
    replace_on_underlay(pin_dir, bpf_map__fd(skel->maps.node_config),
                        bpf_program__fd(skel->progs.from_underlay));
    for (const HookSpec& spec : kAllHooks) {
        std::string staged = prog_pin(pin_dir, spec) + "_new";
        if (::rename(staged.c_str(), prog_pin(pin_dir, spec).c_str()) != 0) {
            throw_errno("rename " + staged);
        }
    }
    shuttle_loader_state state{};
    state.build_hash = Node::build_hash();
    state.layout_version = SHUTTLE_LAYOUT_VERSION;
    update(bpf_map__fd(skel->maps.loader), uint32_t{0}, state);
    return result;
}

// The fast path: everything pinned and from this build.
bool pins_are_current(const std::string& pin_dir) {
    for (const HookSpec& spec : kAllHooks) {
        if (!path_exists(prog_pin(pin_dir, spec))) {
            return false;
        }
    }
    for (const char* name : kMapNames) {
        if (!path_exists(map_pin(pin_dir, name))) {
            return false;
        }
    }
    UniqueFd loader = open_pin(map_pin(pin_dir, "loader"));
    auto state = lookup<shuttle_loader_state>(loader.get(), uint32_t{0});
    return state && state->build_hash == Node::build_hash() &&
           state->layout_version == SHUTTLE_LAYOUT_VERSION;
}

}  // namespace

uint64_t Node::build_hash() {
    return shuttle_bpf_build_hash;
}

Node Node::ensure(const Options& options) {
    install_libbpf_print();
    Node node;
    node.options_ = options;
    node.pin_dir_ = pin_dir_of(options.bpffs_root);
    node.bpffs_mounted_at_ = prepare_bpffs_root(options.bpffs_root);
    DirLock lock(options.bpffs_root);
    if (!pins_are_current(node.pin_dir_)) {
        make_bpffs_dirs(maps_dir(node.pin_dir_));
        make_bpffs_dirs(node.pin_dir_ + "/progs");
        for (const HookSpec& spec : kAllHooks) {
            make_bpffs_dirs(links_dir(node.pin_dir_, spec));
        }
        node.maps_created_ = load_and_pin(node.pin_dir_).maps_created;
        node.programs_loaded_ = true;
    }
    node.open_pins(true);
    if (node.programs_loaded_) {
        node.sync_route_slots();  // e.g. route_slots or underlay_nodes new next to routes
    }
    return node;
}

Node Node::open_existing(const Options& options) {
    Node node;
    node.options_ = options;
    node.pin_dir_ = pin_dir_of(options.bpffs_root);
    if (!path_exists(prog_pin(node.pin_dir_, kPodHooks[0]))) {
        throw std::runtime_error("no shuttle datapath pinned at " + node.pin_dir_ +
                                 " (nothing has run ensure() on this node, or bpffs was "
                                 "remounted)");
    }
    node.open_pins(false);
    return node;
}

void Node::open_pins(bool require_all) {
    // An inspection or a DEL may meet the pins of an older build of this layout, which lack
    // what came later: those are skipped, and using them throws (program_fd / map_fd).
    // ensure() has just pinned everything, so it requires all.
    auto may_lack = [&](const char* name) {
        return !require_all &&
               std::any_of(std::begin(kAddedToLayout1), std::end(kAddedToLayout1),
                           [&](const char* n) { return std::strcmp(n, name) == 0; });
    };
    programs_.clear();
    for (const HookSpec& spec : kAllHooks) {
        if (UniqueFd fd = open_pin(prog_pin(pin_dir_, spec))) {
            programs_.emplace_back(spec.program, std::move(fd));
        } else if (!may_lack(spec.program)) {
            throw std::runtime_error("missing pin " + prog_pin(pin_dir_, spec));
        }
    }
    maps_.clear();
    for (const char* name : kMapNames) {
        if (UniqueFd fd = open_pin(map_pin(pin_dir_, name))) {
            maps_.emplace_back(name, std::move(fd));
        } else if (!may_lack(name)) {
            throw std::runtime_error("missing pin " + map_pin(pin_dir_, name));
        }
    }
}

int Node::map_fd(const std::string& name) const {
    for (const auto& [n, fd] : maps_) {
        if (n == name) {
            return fd.get();
        }
    }
    throw std::invalid_argument("no map " + name);
}

int Node::program_fd(const std::string& name) const {
    for (const auto& [n, fd] : programs_) {
        if (n == name) {
            return fd.get();
        }
    }
    throw std::invalid_argument("no program " + name);
}

uint64_t Node::pinned_build_hash() const {
    auto state = lookup<shuttle_loader_state>(map_fd("loader"), uint32_t{0});
    return state ? state->build_hash : 0;
}

}  // namespace shuttle::datapath
