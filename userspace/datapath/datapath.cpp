#include "datapath/datapath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdarg>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "common/system_error.h"
#include "datapath/attach.h"
#include "datapath/bpffs.h"
#include "datapath/map_access.h"
#include "from_pod.hash.h"
#include "from_pod.skel.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {
namespace {

// Every map of from_pod.bpf.c (tests/integration/datapath_test.cpp keeps this list true).
const char* const kMapNames[] = {"endpoints", "endpoint_meta", "nat_pairs",
                                 "routes",    "route_slots",   "node_config",
                                 "loader",    "stats",         "events"};

// Pins that builds of layout 1 before the overlay did not have.
const char* const kAddedToLayout1[] = {"from_overlay", "to_overlay", "route_slots"};

// Which program runs at which hook of a device, and where its TCX links are pinned.
struct HookSpec {
    Hook hook;
    const char* program;
    const char* links_subdir;
};
// Every host veth of a pod.
const HookSpec kPodHooks[] = {{Hook::Ingress, "from_pod", "ingress"},
                              {Hook::Egress, "to_pod", "egress"}};
// The node's collect_md VXLAN device.
const HookSpec kOverlayHooks[] = {{Hook::Ingress, "from_overlay", "overlay-ingress"},
                                  {Hook::Egress, "to_overlay", "overlay-egress"}};
const HookSpec kAllHooks[] = {kPodHooks[0], kPodHooks[1], kOverlayHooks[0], kOverlayHooks[1]};

const HookSpec (&hooks_of(bool overlay))[2] {
    return overlay ? kOverlayHooks : kPodHooks;
}

struct SkelDeleter {
    void operator()(from_pod_bpf* s) const { from_pod_bpf__destroy(s); }
};
using Skeleton = std::unique_ptr<from_pod_bpf, SkelDeleter>;

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
// A TCX link's pin; bpffs refuses names with a dot, which interface names may have.
std::string link_pin_of(const std::string& pin_dir, const HookSpec& spec,
                        const std::string& ifname) {
    std::string name = ifname;
    std::replace(name.begin(), name.end(), '.', '-');
    return links_dir(pin_dir, spec) + "/" + name;
}

uint32_t ipv4_of(const IpAddress& ip) {
    if (!ip.is_v4()) {
        throw std::invalid_argument("the datapath handles IPv4 only, got " + ip.str());
    }
    uint32_t net;
    std::memcpy(&net, ip.bytes.data(), 4);
    return net;
}

IpAddress ip_of(uint32_t net) {
    IpAddress ip;
    ip.family = AF_INET;
    std::memcpy(ip.bytes.data(), &net, 4);
    return ip;
}

MacAddress mac_of(const uint8_t* bytes) {
    MacAddress mac;
    std::copy_n(bytes, 6, mac.bytes.begin());
    return mac;
}

void copy_mac(uint8_t* dst, const MacAddress& mac) {
    std::copy_n(mac.bytes.begin(), 6, dst);
}

std::string ifname_of(int ifindex) {
    char name[IF_NAMESIZE] = {};
    return if_indextoname(static_cast<unsigned>(ifindex), name) ? name : "";
}

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

struct LoadResult {
    bool maps_created = false;
};

// The slow path: verify the program, reuse or create the maps, pin, swap the program on
// every attachment, then record the build. Runs under the pin-root lock.
LoadResult load_and_pin(const std::string& pin_dir) {
    LoadResult result;
    Skeleton skel(from_pod_bpf__open());
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
    if (int err = from_pod_bpf__load(skel.get())) {
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

// libbpf prints netlink extack text for errors we handle (an existing clsact, a missing
// filter on detach) or turn into exceptions; everything else it says goes to stderr.
int quiet_libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
    if (level == LIBBPF_DEBUG || std::strstr(format, "Kernel error message") != nullptr) {
        return 0;
    }
    return std::vfprintf(stderr, format, args);
}

void install_libbpf_print() {
    static std::once_flag once;
    std::call_once(once, [] { libbpf_set_print(quiet_libbpf_print); });
}

}  // namespace

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

uint64_t Node::build_hash() {
    return from_pod_bpf_build_hash;
}

Node Node::ensure(const Options& options) {
    install_libbpf_print();
    Node node;
    node.options_ = options;
    node.pin_dir_ = options.bpffs_root + "/v" + std::to_string(SHUTTLE_LAYOUT_VERSION);
    make_bpffs_dirs(options.bpffs_root);
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
        node.sync_route_slots();  // e.g. route_slots new next to routes of an older build
    }
    return node;
}

Node Node::open_existing(const Options& options) {
    Node node;
    node.options_ = options;
    node.pin_dir_ = options.bpffs_root + "/v" + std::to_string(SHUTTLE_LAYOUT_VERSION);
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

EndpointTable Node::table() const {
    return EndpointTable(map_fd("endpoints"), map_fd("node_config"));
}

void Node::attach(const Endpoint& endpoint) {
    if (endpoint.host_ifindex <= 0 || endpoint.host_ifname.empty() ||
        endpoint.host_ifname.size() >= IF_NAMESIZE) {
        throw std::invalid_argument("endpoint needs the host veth's ifindex and name");
    }
    uint32_t ip = ipv4_of(endpoint.ip);

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

    shuttle_endpoint_meta meta{};
    set_field_string(meta.container_id, endpoint.container_id);
    set_field_string(meta.ifname, endpoint.ifname);
    set_field_string(meta.host_ifname, endpoint.host_ifname);
    set_field_string(meta.pod_namespace, endpoint.pod_namespace);
    set_field_string(meta.pod_name, endpoint.pod_name);
    update(map_fd("endpoint_meta"), ip, meta);

    AttachMode mode = attach_programs(endpoint.host_ifindex, endpoint.host_ifname, false);
    ep.attach_mode = mode == AttachMode::Tcx ? SHUTTLE_ATTACH_TCX : SHUTTLE_ATTACH_TC;
    table().put(ip, ep);
}

AttachMode Node::attach_programs(int ifindex, const std::string& ifname, bool overlay) {
    bool use_tcx = options_.attach != AttachMode::Tc;
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
            if (options_.attach == AttachMode::Tcx || spec.hook != Hook::Ingress ||
                !means_no_tcx(err)) {
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

void Node::detach(const std::string& host_ifname, const IpAddress& ip_address) {
    uint32_t ip = ipv4_of(ip_address);
    auto ep = table().find(ip);
    int ifindex =
        ep ? static_cast<int>(ep->ifindex) : static_cast<int>(if_nametoindex(host_ifname.c_str()));
    bool maybe_tc = !ep || ep->attach_mode != SHUTTLE_ATTACH_TCX;
    detach_programs(ifindex, host_ifname, maybe_tc, false);
    table().clear(ip);
    erase(map_fd("endpoint_meta"), ip);
}

std::string Node::attach_check(int ifindex, const std::string& ifname, uint32_t mode,
                               bool overlay) const {
    for (const HookSpec& spec : hooks_of(overlay)) {
        uint32_t want = prog_id(program_fd(spec.program));
        std::string where = std::string(spec.program) + " on " + ifname;
        if (mode == SHUTTLE_ATTACH_TCX) {
            UniqueFd link = open_pin(link_pin_of(pin_dir_, spec, ifname));
            if (!link) {
                return where + ": no pinned TCX link";
            }
            TcxLinkInfo info = tcx_link_info(link.get());
            if (info.ifindex != static_cast<uint32_t>(ifindex) || info.prog_id != want) {
                return where + ": TCX link is on ifindex " + std::to_string(info.ifindex) +
                       " with program " + std::to_string(info.prog_id);
            }
        } else if (mode == SHUTTLE_ATTACH_TC) {
            auto attached = tc_prog_id(ifindex, spec.hook);
            if (!attached) {
                return where + ": no cls_bpf filter";
            }
            if (*attached != want) {
                return where + ": the cls_bpf filter runs program " + std::to_string(*attached);
            }
        } else {
            return where + ": never attached";
        }
    }
    return "";
}

std::string Node::check(const Endpoint& endpoint) const {
    uint32_t ip = ipv4_of(endpoint.ip);
    uint32_t ifindex = static_cast<uint32_t>(endpoint.host_ifindex);
    auto ep = table().find(ip);
    if (!ep) {
        return "no endpoint entry for " + endpoint.ip.str();
    }
    if (ep->ifindex != ifindex) {
        return "endpoint " + endpoint.ip.str() + " points at ifindex " +
               std::to_string(ep->ifindex) + ", not " + std::to_string(ifindex);
    }
    if (mac_of(ep->pod_mac) != endpoint.pod_mac || mac_of(ep->host_mac) != endpoint.host_mac) {
        return "endpoint " + endpoint.ip.str() + " has MACs " + mac_of(ep->pod_mac).str() + "/" +
               mac_of(ep->host_mac).str();
    }
    return attach_check(endpoint.host_ifindex, endpoint.host_ifname, ep->attach_mode);
}

NodeConfig Node::config() const {
    NodeConfig out;
    auto cfg = lookup<shuttle_config>(map_fd("node_config"), uint32_t{0});
    if (!cfg || cfg->layout_version == 0) {
        return out;  // never written
    }
    auto address = [](uint32_t net) { return net ? ip_of(net) : IpAddress{}; };
    auto prefix = [&](uint32_t net, uint32_t len) {
        return len ? IpPrefix{ip_of(net), static_cast<int>(len)} : IpPrefix{};
    };
    out.node_subnet = prefix(cfg->node_subnet, cfg->node_subnet_len);
    out.gateway = address(cfg->gateway);
    out.cluster_network = prefix(cfg->cluster_network, cfg->cluster_len);
    out.vxlan_ifindex = static_cast<int>(cfg->vxlan_ifindex);
    out.vni = cfg->vni;
    out.vtep_mac = mac_of(cfg->vtep_mac);
    out.underlay_ip = address(cfg->underlay_ip);
    return out;
}

void Node::set_config(const NodeConfig& config) {
    bool has_subnet = !config.node_subnet.address.empty();
    if (has_subnet && (config.node_subnet.length < 16 || config.node_subnet.length > 30)) {
        throw std::invalid_argument("node subnet " + config.node_subnet.str() +
                                    ": the datapath takes /16 to /30");
    }
    shuttle_config cfg{};
    cfg.layout_version = SHUTTLE_LAYOUT_VERSION;
    // shuttlectl monitor --trace owns these; a config change must not end its trace.
    if (auto current = lookup<shuttle_config>(map_fd("node_config"), uint32_t{0})) {
        cfg.flags = current->flags & SHUTTLE_CONFIG_F_TRACE;
        cfg.trace_sample = current->trace_sample;
        cfg.trace_until = current->trace_until;
    }
    if (has_subnet) {
        cfg.node_subnet = ipv4_of(config.node_subnet.network().address);
        cfg.node_subnet_len = static_cast<uint32_t>(config.node_subnet.length);
    }
    if (!config.gateway.empty()) {
        cfg.gateway = ipv4_of(config.gateway);
    }
    if (!config.cluster_network.address.empty()) {
        cfg.cluster_network = ipv4_of(config.cluster_network.network().address);
        cfg.cluster_len = static_cast<uint32_t>(config.cluster_network.length);
    }
    cfg.vxlan_ifindex = static_cast<uint32_t>(config.vxlan_ifindex);
    cfg.vni = config.vni;
    copy_mac(cfg.vtep_mac, config.vtep_mac);
    if (!config.underlay_ip.empty()) {
        cfg.underlay_ip = ipv4_of(config.underlay_ip);
    }
    update(map_fd("node_config"), uint32_t{0}, cfg);
    sync_route_slots();  // the slots depend on the cluster network and the subnet length
}

void Node::set_pod_network(const IpPrefix& node_subnet, const IpAddress& gateway,
                           const IpPrefix& cluster_network) {
    DirLock lock(options_.bpffs_root);
    NodeConfig cfg = config();
    if (cfg.node_subnet == node_subnet.network() && cfg.gateway == gateway &&
        cfg.cluster_network == cluster_network.network()) {
        return;
    }
    cfg.node_subnet = node_subnet.network();
    cfg.gateway = gateway;
    cfg.cluster_network = cluster_network.network();
    set_config(cfg);
}

void Node::set_overlay(int vxlan_ifindex, uint32_t vni, const MacAddress& vtep_mac,
                       const IpAddress& underlay_ip) {
    DirLock lock(options_.bpffs_root);
    NodeConfig cfg = config();
    cfg.vxlan_ifindex = vxlan_ifindex;
    cfg.vni = vni;
    cfg.vtep_mac = vtep_mac;
    cfg.underlay_ip = underlay_ip;
    set_config(cfg);
}

std::vector<Attachment> Node::attachments() const {
    std::vector<Attachment> out;
    for (uint32_t ip : keys<uint32_t>(map_fd("endpoint_meta"))) {
        auto ep = table().find(ip);
        auto meta = lookup<shuttle_endpoint_meta>(map_fd("endpoint_meta"), ip);
        Attachment a;
        a.pod_ip = ip_of(ip);
        if (!ep) {
            a.ifname = meta ? field_string(meta->host_ifname) : "";
            a.detail = "no endpoint entry";
            out.push_back(std::move(a));
            continue;
        }
        a.ifindex = static_cast<int>(ep->ifindex);
        a.ifname = ifname_of(a.ifindex);
        a.mode = ep->attach_mode == SHUTTLE_ATTACH_TCX  ? AttachMode::Tcx
                 : ep->attach_mode == SHUTTLE_ATTACH_TC ? AttachMode::Tc
                                                        : AttachMode::Auto;
        a.detail =
            a.ifname.empty() ? "device gone" : attach_check(a.ifindex, a.ifname, ep->attach_mode);
        a.attached = a.detail.empty();
        out.push_back(std::move(a));
    }
    return out;
}

void Node::attach_overlay(int vxlan_ifindex, const std::string& vxlan_ifname) {
    if (vxlan_ifindex <= 0 || vxlan_ifname.empty() || vxlan_ifname.size() >= IF_NAMESIZE) {
        throw std::invalid_argument("attach_overlay needs the VXLAN device's ifindex and name");
    }
    DirLock lock(options_.bpffs_root);
    attach_programs(vxlan_ifindex, vxlan_ifname, true);
    // from_pod redirects to this device, and ensure() finds its filters for upgrades here.
    NodeConfig cfg = config();
    if (cfg.vxlan_ifindex != vxlan_ifindex) {
        cfg.vxlan_ifindex = vxlan_ifindex;
        set_config(cfg);
    }
}

void Node::detach_overlay(const std::string& vxlan_ifname) {
    DirLock lock(options_.bpffs_root);
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
    bool pinned = std::any_of(programs_.begin(), programs_.end(),
                              [](const auto& p) { return p.first == "from_overlay"; });
    if (!pinned) {
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

namespace {

using RouteEntries = std::map<std::pair<uint32_t, uint32_t>, shuttle_route>;

shuttle_route_key route_key(uint32_t subnet, uint32_t prefix_len) {
    shuttle_route_key key{};
    key.subnet = subnet;
    key.prefix_len = prefix_len;
    return key;
}

// The map entries for `routes`, refusing what the programs could never match.
RouteEntries route_entries(const std::vector<RemoteRoute>& routes, const NodeConfig& cfg) {
    RouteEntries out;
    for (const RemoteRoute& r : routes) {
        std::string what = "route " + r.subnet.str() + ": ";
        if (!r.subnet.address.is_v4() || !r.underlay_ip.is_v4()) {
            throw std::invalid_argument(what + "the overlay handles IPv4 only");
        }
        if (r.subnet.length < 1 || r.subnet.length > 32) {
            throw std::invalid_argument(what + "bad prefix length");
        }
        if (!cfg.node_subnet.address.empty()) {
            if (r.subnet.length != cfg.node_subnet.length) {
                throw std::invalid_argument(what + "every node's subnet has this node's length /" +
                                            std::to_string(cfg.node_subnet.length) +
                                            " (the lookup masks with it)");
            }
            if (r.subnet.network() == cfg.node_subnet.network()) {
                throw std::invalid_argument(what + "is this node's own subnet");
            }
        }
        if (!cfg.cluster_network.address.empty() && !cfg.cluster_network.contains(r.subnet)) {
            throw std::invalid_argument(what + "is outside the cluster network " +
                                        cfg.cluster_network.str());
        }
        if (r.vni == 0 || r.vni > 0xFFFFFF) {
            throw std::invalid_argument(what + "VNI " + std::to_string(r.vni) +
                                        " is not 1..16777215");
        }
        shuttle_route value{};
        value.underlay_ip = ipv4_of(r.underlay_ip);
        copy_mac(value.vtep_mac, r.vtep_mac);
        value.vni = r.vni;
        auto key = std::make_pair(ipv4_of(r.subnet.network().address),
                                  static_cast<uint32_t>(r.subnet.length));
        if (!out.emplace(key, value).second) {
            throw std::invalid_argument(what + "listed twice");
        }
    }
    if (out.size() > SHUTTLE_MAX_ROUTES) {
        throw std::invalid_argument(std::to_string(out.size()) + " routes; the map holds " +
                                    std::to_string(SHUTTLE_MAX_ROUTES));
    }
    return out;
}

bool same_route(const shuttle_route& a, const shuttle_route& b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

// The index of the lease `subnet`/`len` (network order) in route_slots, nullopt when this
// config has no slot layout (see shuttle_abi.h) or the subnet is outside the cluster.
std::optional<uint32_t> route_slot(uint32_t subnet, uint32_t len, const shuttle_config& cfg) {
    const uint32_t node_len = cfg.node_subnet_len, cluster_len = cfg.cluster_len;
    if (node_len == 0 || node_len > 32 || cluster_len == 0 || cluster_len > node_len ||
        node_len - cluster_len > SHUTTLE_ROUTE_SLOT_BITS || len != node_len) {
        return std::nullopt;
    }
    uint32_t offset = ntohl(subnet) - ntohl(cfg.cluster_network);
    if (cluster_len < 32 && (offset >> (32 - cluster_len)) != 0) {
        return std::nullopt;
    }
    return offset >> (32 - node_len);
}

// Every entry of a map, by BPF_MAP_LOOKUP_BATCH: a few syscalls instead of two per entry.
template <class Key, class Value>
std::vector<std::pair<Key, Value>> read_all(int fd, uint32_t max_entries, const char* what) {
    std::vector<std::pair<Key, Value>> out;
    std::vector<Key> keys(max_entries);
    std::vector<Value> values(max_entries);
    uint32_t batch = 0;  // the kernel's resume token: a bucket (hash) or a key (array)
    for (bool first = true;; first = false) {
        uint32_t count = max_entries;
        LIBBPF_OPTS(bpf_map_batch_opts, opts);
        int rc = bpf_map_lookup_batch(fd, first ? nullptr : &batch, &batch, keys.data(),
                                      values.data(), &count, &opts);
        if (rc != 0 && errno != ENOENT) {
            throw_errno(std::string("batch read of ") + what);
        }
        for (uint32_t i = 0; i < count; ++i) {
            out.emplace_back(keys[i], values[i]);
        }
        if (rc != 0 || count == 0) {
            return out;
        }
    }
}

// Every slot of route_slots, in index order.
std::vector<shuttle_route> read_slots(int slots_fd) {
    std::vector<shuttle_route> out(SHUTTLE_MAX_ROUTE_SLOTS);
    for (const auto& [slot, value] :
         read_all<uint32_t, shuttle_route>(slots_fd, SHUTTLE_MAX_ROUTE_SLOTS, "route_slots")) {
        if (slot < out.size()) {
            out[slot] = value;
        }
    }
    return out;
}

RouteEntries read_routes(int routes_fd) {
    RouteEntries out;
    for (const auto& [key, value] :
         read_all<shuttle_route_key, shuttle_route>(routes_fd, SHUTTLE_MAX_ROUTES, "routes")) {
        out.emplace(std::make_pair(key.subnet, key.prefix_len), value);
    }
    return out;
}

}  // namespace

void Node::sync_route_slots() const {
    auto cfg =
        lookup<shuttle_config>(map_fd("node_config"), uint32_t{0}).value_or(shuttle_config{});
    const int slots_fd = map_fd("route_slots");
    std::vector<shuttle_route> wanted(SHUTTLE_MAX_ROUTE_SLOTS);
    for (const auto& [key, value] : read_routes(map_fd("routes"))) {
        if (auto slot = route_slot(key.first, key.second, cfg)) {
            wanted[*slot] = value;
        }
    }
    std::vector<shuttle_route> current = read_slots(slots_fd);
    for (uint32_t i = 0; i < SHUTTLE_MAX_ROUTE_SLOTS; ++i) {
        if (!same_route(current[i], wanted[i])) {
            update(slots_fd, i, wanted[i]);
        }
    }
}

void Node::set_routes(const std::vector<RemoteRoute>& routes) {
    DirLock lock(options_.bpffs_root);
    RouteEntries wanted = route_entries(routes, config());
    const int fd = map_fd("routes");
    RouteEntries current = read_routes(fd);
    // Additions and changes first, so a subnet that moved never has no route.
    for (const auto& [key, value] : wanted) {
        auto found = current.find(key);
        if (found == current.end() || !same_route(found->second, value)) {
            update(fd, route_key(key.first, key.second), value);
        }
    }
    for (const auto& [key, value] : current) {
        if (!wanted.count(key)) {
            erase(fd, route_key(key.first, key.second));
        }
    }
    sync_route_slots();
}

std::vector<RemoteRoute> Node::routes() const {
    std::vector<RemoteRoute> out;
    for (const auto& [key, value] : read_routes(map_fd("routes"))) {
        RemoteRoute r;
        r.subnet = IpPrefix{ip_of(key.first), static_cast<int>(key.second)};
        r.underlay_ip = ip_of(value.underlay_ip);
        r.vtep_mac = mac_of(value.vtep_mac);
        r.vni = value.vni;
        out.push_back(r);
    }
    std::sort(out.begin(), out.end(), [](const RemoteRoute& a, const RemoteRoute& b) {
        return a.subnet.address.v4_host_order() < b.subnet.address.v4_host_order();
    });
    return out;
}

namespace {

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
