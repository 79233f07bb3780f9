// Node::ensure() and what it needs: loading and verifying the BPF object, reusing or creating
// the pinned maps, swapping new programs in on every attachment (program_swap.cpp), the
// newer-build rule, the upgrade from an older layout (state carried by state_carry.cpp); and
// opening the pins of a node that has them.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "common/system_error.h"
#include "datapath/attach.h"
#include "datapath/bpffs.h"
#include "datapath/datapath.h"
#include "datapath/libbpf_log.h"
#include "datapath/map_access.h"
#include "datapath/pin_layout.h"
#include "datapath/program_swap.h"
#include "datapath/state_carry.h"
#include "shuttle.hash.h"
#include "shuttle.skel.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {
namespace {

struct ObjectCloser {
    void operator()(bpf_object* o) const { bpf_object__close(o); }
};
using Object = std::unique_ptr<bpf_object, ObjectCloser>;

Object open_object(const Build& build) {
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "shuttle");
    bpf_object* object = bpf_object__open_mem(build.elf, build.elf_size, &opts);
    if (!object) {
        throw_errno("open BPF object shuttle");
    }
    return Object(object);
}

int program_fd_of(bpf_object* object, const char* name) {
    bpf_program* program = bpf_object__find_program_by_name(object, name);
    if (!program) {
        throw std::runtime_error(std::string("the BPF object has no program ") + name);
    }
    return bpf_program__fd(program);
}

int map_fd_of(bpf_object* object, const char* name) {
    bpf_map* map = bpf_object__find_map_by_name(object, name);
    if (!map) {
        throw std::runtime_error(std::string("the BPF object has no map ") + name);
    }
    return bpf_map__fd(map);
}

// A pinned map must have exactly the layout this build was compiled with: libbpf's
// reuse_fd would silently adopt whatever sizes the pin has.
void require_same_layout(const bpf_map* wanted, int pinned_fd, const std::string& path) {
    auto info = object_info<bpf_map_info>(pinned_fd, "map info " + path);
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

// The loader record under `pin_dir`; nullopt without one (or before the first load finished).
std::optional<PinnedBuild> read_pinned_build(const std::string& pin_dir) {
    UniqueFd loader = open_pin(map_pin(pin_dir, "loader"));
    auto state = loader ? lookup<shuttle_loader_state>(loader.get(), uint32_t{0}) : std::nullopt;
    if (!state || state->layout_version == 0) {
        return std::nullopt;
    }
    return PinnedBuild{state->build_hash, state->build_serial, state->layout_version};
}

// The host veths of the pods attached by cls_bpf filter: the pods with IPv4 (endpoint_meta,
// the endpoints slot's mode) and the IPv6-only ones (endpoint_meta6, their endpoints6 entry's).
std::vector<int> pods_attached_by_tc(bpf_object* object) {
    std::vector<int> out;
    EndpointTable table(map_fd_of(object, "endpoints"), map_fd_of(object, "node_config"));
    for (uint32_t ip : keys<uint32_t>(map_fd_of(object, "endpoint_meta"))) {
        auto ep = table.find(ip);
        if (ep && ep->attach_mode == SHUTTLE_ATTACH_TC) {
            out.push_back(static_cast<int>(ep->ifindex));
        }
    }
    EndpointTable6 table6(map_fd_of(object, "endpoints6"), map_fd_of(object, "endpoints6_hash"),
                          map_fd_of(object, "node_config6"));
    for (const shuttle_ip6& ip : keys<shuttle_ip6>(map_fd_of(object, "endpoint_meta6"))) {
        auto ep = table6.find(ip);
        if (ep && ep->attach_mode == SHUTTLE_ATTACH_TC) {
            out.push_back(static_cast<int>(ep->ifindex));
        }
    }
    return out;
}

void remove_pin_dir(const std::string& dir) {
    std::error_code error;
    std::filesystem::remove_all(dir, error);
    if (error) {
        throw std::system_error(error, "remove " + dir);
    }
}

// What an upgrade from older layouts needs: their folders (links move from all of them) and
// the one whose maps are carried over (none when an earlier run already carried them).
struct Migration {
    std::vector<std::string> older_dirs;
    std::string carry_from;
    uint32_t carry_layout = 0;
};

struct LoadResult {
    bool maps_created = false;
};

// The slow path: verify the programs, reuse or create the maps (carrying an older layout's
// state into new ones), pin, swap the programs on every attachment, then record the build.
// Runs under the pin-root lock.
LoadResult load_and_pin(const std::string& pin_dir, const Build& build,
                        const Migration& migration) {
    LoadResult result;
    Object object = open_object(build);
    std::optional<StateCarry> carry;
    if (!migration.carry_from.empty()) {  // checks every map before anything is written
        carry.emplace(migration.carry_from, migration.carry_layout, object.get(), build);
    }
    std::vector<bpf_map*> created;
    bpf_map* map;
    bpf_object__for_each_map(map, object.get()) {
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
    if (int err = bpf_object__load(object.get())) {
        throw system_error(-err, "load (verify) the BPF programs");
    }
    if (carry) {
        carry->copy();
    }
    for (bpf_map* m : created) {
        pin(bpf_map__fd(m), map_pin(pin_dir, bpf_map__name(m)));
        result.maps_created = !carry;  // carried maps are new, their state is not
    }

    // Stage the new programs' pins, swap them in on every device, then move the pins.
    for (const HookSpec& spec : kAllHooks) {
        std::string staged = prog_pin(pin_dir, spec) + "_new";
        unpin(staged);
        pin(program_fd_of(object.get(), spec.program), staged);
    }
    move_older_links(pin_dir, migration.older_dirs);
    std::vector<int> tc_pods = pods_attached_by_tc(object.get());
    for (const HookSpec& spec : kPodHooks) {
        replace_on_pods(pin_dir, spec, tc_pods, program_fd_of(object.get(), spec.program));
    }
    for (const HookSpec& spec : kOverlayHooks) {
        replace_on_overlay(pin_dir, spec, map_fd_of(object.get(), "node_config"),
                           program_fd_of(object.get(), spec.program));
    }
    replace_on_underlay(pin_dir, map_fd_of(object.get(), "node_config"),
                        program_fd_of(object.get(), kUnderlayHook.program));
    for (const HookSpec& spec : kAllHooks) {
        std::string staged = prog_pin(pin_dir, spec) + "_new";
        if (::rename(staged.c_str(), prog_pin(pin_dir, spec).c_str()) != 0) {
            throw_errno("rename " + staged);
        }
    }
    if (carry) {
        carry->catch_up();  // what the old programs wrote until their last packet
    }
    shuttle_loader_state state{};
    state.build_hash = build.hash;
    state.layout_version = build.layout;
    state.build_serial = build.serial;
    update(map_fd_of(object.get(), "loader"), uint32_t{0}, state);
    for (const std::string& old_dir : migration.older_dirs) {
        remove_pin_dir(old_dir);
    }
    return result;
}

// The loader record, when every pin of this layout is there.
std::optional<PinnedBuild> complete_pins(const std::string& pin_dir) {
    for (const HookSpec& spec : kAllHooks) {
        if (!path_exists(prog_pin(pin_dir, spec))) {
            return std::nullopt;
        }
    }
    for (const char* name : kMapNames) {
        if (!path_exists(map_pin(pin_dir, name))) {
            return std::nullopt;
        }
    }
    return read_pinned_build(pin_dir);
}

// The newer build wins: programs pinned by a build of a higher serial (or of the same serial,
// so that two such builds never swap back and forth) stay.
bool should_replace(const std::optional<PinnedBuild>& pinned, const Build& build) {
    return !pinned || (pinned->hash != build.hash && pinned->serial < build.serial);
}

std::string newer_layout_refusal(const std::string& root, uint32_t pinned, uint32_t mine) {
    return "the datapath pinned at " + pin_dir_of(root, pinned) + " has layout " +
           std::to_string(pinned) + ", newer than this build's layout " + std::to_string(mine) +
           ": a newer shuttle owns this node, and this build changes nothing (run the newer "
           "build, or uninstall the datapath to go back)";
}

// Older layouts to upgrade from; throws when a newer one is pinned.
Migration plan_migration(const std::string& root, const std::string& pin_dir, uint32_t layout) {
    Migration migration;
    for (uint32_t found : pinned_layouts(root)) {
        if (found > layout) {
            throw std::runtime_error(newer_layout_refusal(root, found, layout));
        }
        if (found < layout) {
            migration.older_dirs.push_back(pin_dir_of(root, found));
            migration.carry_layout = found;  // the newest older one
        }
    }
    // Carried already when this layout's loader record exists (a run stopped before removing
    // the old folders).
    if (!migration.older_dirs.empty() && !read_pinned_build(pin_dir)) {
        migration.carry_from = pin_dir_of(root, migration.carry_layout);
    }
    return migration;
}

}  // namespace

const Build& Build::this_binary() {
    static const Build build = [] {
        Build b;
        b.elf = shuttle_bpf__elf_bytes(&b.elf_size);
        b.hash = shuttle_bpf_build_hash;
        b.serial = shuttle_bpf_build_serial;
        b.layout = SHUTTLE_LAYOUT_VERSION;
        return b;
    }();
    return build;
}

uint64_t Node::build_hash() {
    return Build::this_binary().hash;
}

Node Node::ensure(const Options& options) {
    install_libbpf_print();
    Node node;
    node.options_ = options;
    node.build_ = options.build ? options.build : &Build::this_binary();
    const Build& build = *node.build_;
    node.pin_dir_ = pin_dir_of(options.bpffs_root, build.layout);
    node.bpffs_mounted_at_ = prepare_bpffs_root(options.bpffs_root);
    DirLock lock(options.bpffs_root);
    require_own_directory(lock.fd(), options.bpffs_root);
    Migration migration = plan_migration(options.bpffs_root, node.pin_dir_, build.layout);
    if (!migration.older_dirs.empty() || should_replace(complete_pins(node.pin_dir_), build)) {
        make_bpffs_dirs(maps_dir(node.pin_dir_));
        make_bpffs_dirs(node.pin_dir_ + "/progs");
        for (const HookSpec& spec : kAllHooks) {
            make_bpffs_dirs(links_dir(node.pin_dir_, spec));
        }
        node.maps_created_ = load_and_pin(node.pin_dir_, build, migration).maps_created;
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
    node.build_ = options.build ? options.build : &Build::this_binary();
    node.pin_dir_ = pin_dir_of(options.bpffs_root, node.build_->layout);
    if (!path_exists(prog_pin(node.pin_dir_, kPodHooks[0]))) {
        std::vector<uint32_t> layouts = pinned_layouts(options.bpffs_root);
        if (!layouts.empty() && layouts.back() > node.build_->layout) {
            throw std::runtime_error(
                newer_layout_refusal(options.bpffs_root, layouts.back(), node.build_->layout));
        }
        if (!layouts.empty()) {
            throw std::runtime_error("the datapath at " + options.bpffs_root +
                                     " has the pins of an older layout " +
                                     std::to_string(layouts.back()) +
                                     ": the next ensure() (an ADD, or shuttled) upgrades them");
        }
        throw std::runtime_error("no shuttle datapath pinned at " + node.pin_dir_ +
                                 " (nothing has run ensure() on this node, or bpffs was "
                                 "remounted)");
    }
    node.open_pins(false);
    return node;
}

void Node::follow_replaced_programs() {
    UniqueFd pinned = open_pin(prog_pin(pin_dir_, kPodHooks[0]));
    if (!pinned) {
        std::vector<uint32_t> layouts = pinned_layouts(options_.bpffs_root);
        if (!layouts.empty() && layouts.back() > build_->layout) {
            throw std::runtime_error(
                newer_layout_refusal(options_.bpffs_root, layouts.back(), build_->layout));
        }
        throw std::runtime_error("the datapath pinned at " + pin_dir_ +
                                 " is gone since this call opened it (bpffs remounted?)");
    }
    if (prog_id(pinned.get()) != prog_id(program_fd(kPodHooks[0].program))) {
        open_pins(false);  // another build's ensure() replaced the programs meanwhile
    }
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
    return pinned_build().hash;
}

PinnedBuild Node::pinned_build() const {
    return read_pinned_build(pin_dir_).value_or(PinnedBuild{});
}

}  // namespace shuttle::datapath
