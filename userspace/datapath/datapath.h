#pragma once

// The eBPF datapath of one node: the one owner of shuttle's pinned programs, maps and links.
//
//   auto node = shuttle::datapath::Node::ensure({});   // load/verify/pin once per node
//   node.attach(endpoint);                             // ADD: map entries + program on the veth
//   node.check(endpoint);                              // CHECK: "" or what drifted
//   node.detach(host_ifname, ip);                      // DEL: idempotent
//
// Pins live under <bpffs_root>/v<SHUTTLE_LAYOUT_VERSION>/: maps/<map>, progs/{from_pod,to_pod},
// links/{ingress,egress}/<host veth> (TCX). The pin root directory itself is the lock (flock)
// that serialises every writer on the node. Each host veth carries from_pod at tc ingress and
// to_pod at tc egress. Upgrades (docs/ARCHITECTURE.md, "Upgrades"): the newer build wins;
// pins of an older layout are converted into this one in place.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/unique_fd.h"

namespace shuttle::datapath {

class EndpointTable;
struct HookSpec;
class EndpointTable6;

enum class AttachMode { Auto, Tcx, Tc };

// "auto" | "tcx" | "tc"; throws std::invalid_argument on anything else.
AttachMode parse_attach_mode(const std::string& text);
std::string to_string(AttachMode mode);

// How one carried map's entries move from an older layout into a build's, where a struct
// changed (same sizes and no conversion: the bytes are copied). The output buffers come sized
// for the new map; false drops the entry.
struct MapConversion {
    uint32_t from_layout = 0;
    std::string map;
    std::function<bool(const std::vector<uint8_t>& key, const std::vector<uint8_t>& value,
                       std::vector<uint8_t>& new_key, std::vector<uint8_t>& new_value)>
        convert;
};

// One build of the datapath's BPF object: what ensure() loads, and how it ranks against pins.
struct Build {
    const void* elf = nullptr;
    size_t elf_size = 0;
    uint64_t hash = 0;    // tells builds apart (the object's sha256 prefix)
    uint32_t serial = 0;  // orders them: pins of a higher serial are never replaced by a lower
    uint32_t layout = 0;  // its SHUTTLE_LAYOUT_VERSION: pins under <bpffs_root>/v<layout>/
    std::vector<MapConversion> conversions;  // into this layout from older ones

    // The object compiled into this binary.
    static const Build& this_binary();
};

struct Options {
    std::string bpffs_root = "/sys/fs/bpf/shuttle";
    AttachMode attach = AttachMode::Auto;
    const Build* build = nullptr;  // nullptr: Build::this_binary() (tests load other builds)
};

// What the loader map says about the pinned programs.
struct PinnedBuild {
    uint64_t hash = 0;
    uint32_t serial = 0;
    uint32_t layout = 0;
};

struct Endpoint {
    IpAddress ip;   // IPv4; empty for an IPv6-only pod (then ip6 is its key)
    IpAddress ip6;  // IPv6, empty when the pod has none
    MacAddress pod_mac;
    MacAddress host_mac;
    int host_ifindex = 0;
    std::string host_ifname;
    std::string container_id, ifname, pod_namespace, pod_name;
    std::optional<AttachMode> attach;  // this pod's mode (kept across a re-attach); else Options'
};

// How a pod's packet for another node is encapsulated: `direct` = from_pod pushes the VXLAN
// headers itself and hands the packet to the underlay interface (and from_underlay strips
// them on receive); `device` = through the collect_md VXLAN device, as before. The device
// stays for what the direct path leaves to it (docs/ARCHITECTURE.md, "Direct overlay").
enum class OverlayMode { device, direct };

struct UnderlayConfig {
    int ifindex = 0;             // the node's underlay interface (--iface); 0 = none
    uint16_t vxlan_port = 8472;  // UDP destination port of the VXLAN packets, host order
    OverlayMode mode = OverlayMode::device;

    bool operator==(const UnderlayConfig&) const = default;
};

// The node-wide settings the programs read (map node_config). Unset VXLAN fields stay zero.
struct NodeConfig {
    IpPrefix node_subnet;      // e.g. 10.244.1.0/24
    IpAddress gateway;         // e.g. 10.244.1.1
    IpPrefix cluster_network;  // e.g. 10.244.0.0/16; ARP for it is answered by the host
    int vxlan_ifindex = 0;
    uint32_t vni = 0;
    MacAddress vtep_mac;
    IpAddress underlay_ip;
    UnderlayConfig underlay;  // node_config's underlay_ifindex, vxlan_port and DIRECT flag
};

// The IPv6 half (map node_config6), written by the plugin. Unset: IPv6 passes unchecked.
struct NodeConfig6 {
    IpPrefix node_subnet;      // e.g. fd00:10:1::/64 (FLANNEL_IPV6_SUBNET's network)
    IpAddress gateway;         // e.g. fd00:10:1::1, held by every host veth as /128
    IpPrefix cluster_network;  // e.g. fd00:10::/56; NS for it is answered by the host

    bool operator==(const NodeConfig6&) const = default;
};

// One other node's lease: where pods of its subnet are reached through the overlay.
struct RemoteRoute {
    IpPrefix subnet;        // its pod subnet, e.g. 10.244.2.0/24 (all leases share one length)
    IpAddress underlay_ip;  // its PublicIP: the VXLAN outer destination
    MacAddress vtep_mac;    // its VtepMAC: the inner Ethernet destination
    uint32_t vni = 1;

    bool operator==(const RemoteRoute&) const = default;
};

// One other node's IPv6 half (dual-stack networks): what from_overlay checks IPv6 tunnel
// packets against (map peers6).
struct Peer6 {
    IpAddress public_ip;  // its PublicIPv6: the outer source of its IPv6 tunnel packets
    IpPrefix subnet;      // its IPv6 pod subnet: the inner sources it may send from

    bool operator==(const Peer6&) const = default;
};

// One other node's IPv6 lease (map routes6): where from_pod sends IPv6 for its subnet through
// the VXLAN device. The fields of the kernel route `encap ip6 id <vni> src <local_ip6> dst
// <underlay_ip6>` it replaces on the packet path.
struct RemoteRoute6 {
    IpPrefix subnet;         // its IPv6 pod subnet, e.g. fd00:10:244:2::/64 (/1../64)
    IpAddress underlay_ip6;  // its PublicIPv6: the outer destination
    IpAddress local_ip6;     // this node's PublicIPv6: the outer source
    MacAddress vtep_mac;     // its IPv6 VtepMAC: the inner Ethernet destination
    uint32_t vni = 1;

    bool operator==(const RemoteRoute6&) const = default;
};

// One veth with the program, as the maps and the kernel see it (shuttlectl status).
struct Attachment {
    int ifindex = 0;
    std::string ifname;  // "" when the device is gone
    IpAddress pod_ip;
    AttachMode mode = AttachMode::Auto;  // Tcx or Tc as recorded at attach
    bool attached = false;               // the pinned program is really attached there
    std::string detail;                  // why not, when not
};

class Node {
  public:
    // Mounts bpffs at /sys/fs/bpf first when the root is under it and nothing is mounted
    // there (bpffs_mounted_at() says so), or throws naming the command that would.
    // Loads, verifies and pins maps and programs when pins are missing; replaces the
    // programs on every attachment when this build is newer than the pinned one (a higher
    // serial); keeps the pins of a newer build of the same layout; converts the pins of an
    // older layout into this one (maps copied, every attachment replaced in place, the old
    // pins removed); refuses pins of a newer layout without touching anything. Serialised
    // by a flock on the pin root.
    static Node ensure(const Options& options);

    // Opens existing pins read-write without loading anything (inspection). Throws
    // std::runtime_error naming what is missing when the node has no datapath.
    static Node open_existing(const Options& options);

    // Writes the endpoint's map entries, then attaches the programs to its host veth. The
    // pod address must be in the node subnet of set_config(). Its IPv6 address, if any, gets
    // its endpoints6 entry once set_pod_network6() has run (before, IPv6 is not checked).
    // An IPv6-only endpoint (ip empty) needs set_pod_network6() first (else throws
    // std::invalid_argument); its endpoints6 entry and endpoint_meta6 play IPv4's parts.
    void attach(const Endpoint& endpoint);
    // Removes the link/filter and the map entries of `ip` (IPv4 or IPv6; the IPv6 address of
    // a pod with IPv4 clears its entry only). Missing pieces are not an error. An empty
    // host_ifname means the one endpoint_meta (endpoint_meta6) recorded for the address.
    void detach(const std::string& host_ifname, const IpAddress& ip);
    // "" when the program is attached and the entries match the endpoint; else what drifted.
    std::string check(const Endpoint& endpoint) const;

    NodeConfig config() const;
    // The node subnet decides the endpoint slots: set it before the first attach(). /16../30.
    // Writes every field, the direct-overlay flag from config.underlay; keeps the trace bits.
    void set_config(const NodeConfig& config);
    // The CNI plugin's part of the config (from subnet.env: FLANNEL_SUBNET's network, its
    // first address as gateway, FLANNEL_NETWORK), keeping the overlay fields. Under the node
    // lock; writes nothing when already equal, so every ADD may call it before attach().
    void set_pod_network(const IpPrefix& node_subnet, const IpAddress& gateway,
                         const IpPrefix& cluster_network);
    // The plugin's IPv6 part (node_config6). Under the node lock; true when it changed, which
    // means endpoints attached before have no (or a stale) IPv6 entry: re-attach them.
    bool set_pod_network6(const NodeConfig6& config);
    NodeConfig6 config6() const;
    // The agent's part (VXLAN device, VNI, VtepMAC, public IP), keeping the pod fields.
    void set_overlay(int vxlan_ifindex, uint32_t vni, const MacAddress& vtep_mac,
                     const IpAddress& underlay_ip);

    // The agent's choice of overlay path (see OverlayMode): writes node_config's
    // underlay_ifindex, vxlan_port and SHUTTLE_CONFIG_F_DIRECT_OVERLAY, keeping the rest.
    // Direct mode needs set_overlay()'s underlay IP and VXLAN device too (the fallback).
    void set_underlay(const UnderlayConfig& underlay);
    // Attaches from_underlay at ingress of the node's underlay interface; idempotent;
    // replaces the program of an older build. A TCX link where the kernel has TCX, whatever
    // Options::attach says: the interface is shared with the host and other agents, and a
    // link neither takes nor replaces anyone's clsact filter; tc on kernels without TCX.
    void attach_underlay(int ifindex, const std::string& ifname);
    // Removes from_underlay from the interface (only shuttle's own filter). Idempotent.
    void detach_underlay(const std::string& ifname);
    // The underlay program as the kernel sees it: nullopt when node_config names no
    // underlay interface.
    std::optional<Attachment> underlay_attachment() const;

    // Attaches from_overlay (tc ingress) and to_overlay (tc egress) to the node's collect_md
    // VXLAN device; idempotent; replaces programs of an older build. Same attach mode rules
    // as pods (auto = tc).
    void attach_overlay(int vxlan_ifindex, const std::string& vxlan_ifname);
    // Removes both programs from the device. Missing pieces are not an error.
    void detach_overlay(const std::string& vxlan_ifname);
    // Makes the routes map hold exactly this set (adds, updates, deletes); under the node lock.
    void set_routes(const std::vector<RemoteRoute>& routes);
    std::vector<RemoteRoute> routes() const;
    // Makes peers6 hold exactly these nodes, then turns from_overlay's IPv6 tunnel check on
    // (SHUTTLE_CONFIG_F_IPV6_PEERS in node_config; it stays on). Under the node lock.
    void set_peers6(const std::vector<Peer6>& peers);
    std::vector<Peer6> peers6() const;
    // Makes routes6 hold exactly this set; under the node lock. Subnets longer than /64 are
    // left out (the map's key holds 64 bits: their IPv6 takes the stack's routes). Throws
    // std::invalid_argument for an entry the programs could never use (not IPv6, VNI).
    void set_routes6(const std::vector<RemoteRoute6>& routes);
    std::vector<RemoteRoute6> routes6() const;
    // Detaches every program (pods, overlay and underlay) and removes every pin under the
    // bpffs root.
    // Missing pieces are not an error; a second call does nothing.
    static void uninstall(const Options& options);

    // True when this ensure() created the maps (first start, or the pins were lost): the
    // caller re-attaches the node's existing endpoints from its IP store.
    bool maps_created() const { return maps_created_; }
    // True when this ensure() loaded (verified) the programs.
    bool programs_loaded() const { return programs_loaded_; }
    // The mount point when this ensure() mounted a bpf filesystem (nothing was mounted
    // there), else "": the caller logs it.
    const std::string& bpffs_mounted_at() const { return bpffs_mounted_at_; }

    std::vector<Attachment> attachments() const;
    // Hash of the BPF object this binary carries (compared with the pinned one).
    static uint64_t build_hash();
    // The hash of the object the pinned programs came from.
    uint64_t pinned_build_hash() const;
    PinnedBuild pinned_build() const;
    // The build this Node was opened with (Options::build).
    const Build& build() const { return *build_; }
    const std::string& pin_dir() const { return pin_dir_; }
    int map_fd(const std::string& name) const;
    int program_fd() const { return program_fd("from_pod"); }  // from_pod (ingress)
    int to_pod_program_fd() const { return program_fd("to_pod"); }
    // from_pod, to_pod, from_overlay, to_overlay or from_underlay.
    int program_fd(const std::string& name) const;
    // The VXLAN device's programs as the kernel sees them (shuttlectl status): nullopt when
    // node_config names no device.
    std::optional<Attachment> overlay_attachment() const;

    Node(Node&&) = default;
    Node& operator=(Node&&) = default;

    // An endpoint entry's host veth and SHUTTLE_ATTACH_* mode (either family).
    struct EntryHook {
        uint32_t ifindex = 0;
        uint32_t attach_mode = 0;
    };

  private:
    Node() = default;
    void open_pins(bool require_all);
    // Under the node lock: reopens the pins when another process replaced the programs
    // since this Node opened them (so an ADD never attaches a replaced program).
    void follow_replaced_programs();
    EndpointTable table() const;
    EndpointTable6 table6() const;
    // False on the pins of a build before IPv6 (open_existing: no endpoints6 map).
    bool has_ipv6_maps() const;
    // False on the pins of a build before IPv6-only pods (no endpoint_meta6 map).
    bool has_ipv6_only_maps() const;
    void attach_ipv6(const Endpoint& endpoint);
    std::string check_ipv6(const Endpoint& endpoint) const;
    // A pod without IPv4: endpoints6 and endpoint_meta6 play the parts of endpoints and
    // endpoint_meta.
    void attach_ipv6_only(const Endpoint& endpoint);
    std::string check_ipv6_only(const Endpoint& endpoint) const;
    void detach_ipv6(const std::string& host_ifname, const IpAddress& ip);
    Attachment attachment_of(const IpAddress& pod_ip, std::optional<EntryHook> entry,
                             const std::string& meta_ifname) const;
    // Makes route_slots and underlay_nodes equal to `routes` under the current node_config
    // (see shuttle_abi.h).
    void sync_route_slots() const;
    AttachMode attach_programs(int ifindex, const std::string& ifname, bool overlay,
                               AttachMode mode);
    void detach_programs(int ifindex, const std::string& ifname, bool maybe_tc, bool overlay);
    std::string attach_check(int ifindex, const std::string& ifname, uint32_t mode,
                             bool overlay = false) const;
    // "" when `spec`'s program runs on the device as `mode` (SHUTTLE_ATTACH_*) says.
    std::string hook_check(const HookSpec& spec, int ifindex, const std::string& ifname,
                           uint32_t mode) const;
    bool has_program(const std::string& name) const;

    Options options_;
    const Build* build_ = nullptr;
    std::string pin_dir_;
    std::vector<std::pair<std::string, UniqueFd>> programs_;
    std::vector<std::pair<std::string, UniqueFd>> maps_;
    bool maps_created_ = false;
    bool programs_loaded_ = false;
    std::string bpffs_mounted_at_;
};

}  // namespace shuttle::datapath
