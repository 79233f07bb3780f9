#pragma once

// Where a node's datapath lives in bpffs, and which program runs at which hook: the pin
// layout of <bpffs_root>/v<layout>/ (see datapath.h). Internal to datapath/.

#include <cstdint>
#include <string>
#include <vector>

#include "datapath/attach.h"

namespace shuttle::datapath {

// Every map of the BPF object shuttle (tests/integration/datapath_test.cpp keeps this list
// true).
inline const char* const kMapNames[] = {
    "endpoints",    "endpoint_meta", "nat_pairs",      "routes", "route_slots", "underlay_nodes",
    "node_config",  "loader",        "stats",          "events", "endpoints6",  "endpoints6_hash",
    "node_config6", "nat_pairs6",    "endpoint_meta6", "peers6", "routes6"};

// Pins that builds of layout 1 before the overlay (the direct overlay, IPv6, IPv6-only pods,
// the IPv6 tunnel check, the IPv6 device path) did not have.
inline const char* const kAddedToLayout1[] = {"from_overlay",    "to_overlay",     "route_slots",
                                              "from_underlay",   "underlay_nodes", "endpoints6",
                                              "endpoints6_hash", "node_config6",   "nat_pairs6",
                                              "endpoint_meta6",  "peers6",         "routes6"};

// Which program runs at which hook of a device, and where its TCX links are pinned.
struct HookSpec {
    Hook hook;
    const char* program;
    const char* links_subdir;
};
// Every host veth of a pod.
inline const HookSpec kPodHooks[] = {{Hook::Ingress, "from_pod", "ingress"},
                                     {Hook::Egress, "to_pod", "egress"}};
// The node's collect_md VXLAN device.
inline const HookSpec kOverlayHooks[] = {{Hook::Ingress, "from_overlay", "overlay-ingress"},
                                         {Hook::Egress, "to_overlay", "overlay-egress"}};
// The node's underlay interface (the direct overlay's decapsulation).
inline const HookSpec kUnderlayHook = {Hook::Ingress, "from_underlay", "underlay-ingress"};
inline const HookSpec kAllHooks[] = {kPodHooks[0], kPodHooks[1], kOverlayHooks[0], kOverlayHooks[1],
                                     kUnderlayHook};

inline const HookSpec (&hooks_of(bool overlay))[2] {
    return overlay ? kOverlayHooks : kPodHooks;
}

// <bpffs_root>/v<layout>
std::string pin_dir_of(const std::string& bpffs_root, uint32_t layout);
// The layout versions that have pins under the root (a v<N> folder with a map or program
// pinned), ascending.
std::vector<uint32_t> pinned_layouts(const std::string& bpffs_root);
std::string maps_dir(const std::string& pin_dir);
std::string map_pin(const std::string& pin_dir, const std::string& name);
std::string prog_pin(const std::string& pin_dir, const HookSpec& spec);
std::string links_dir(const std::string& pin_dir, const HookSpec& spec);
// A TCX link's pin; bpffs refuses names with a dot, which interface names may have.
std::string link_pin_of(const std::string& pin_dir, const HookSpec& spec,
                        const std::string& ifname);

// Does the program with this id come from shuttle's object (by name)? Filters on devices
// shuttle shares with others are removed or replaced only when this holds.
bool is_shuttle_program(uint32_t id);

// The names in a directory, without dot entries; empty when it cannot be read.
std::vector<std::string> list_dir(const std::string& dir);

}  // namespace shuttle::datapath
