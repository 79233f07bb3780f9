#pragma once
// The overlay tests' node (overlay_test.cpp, underlay_test.cpp): the probes object with this
// node's maps, the other node's lease, and the packets between them.
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>

#include "bpf_fixture.h"

namespace bpf_fixture {

// This node: subnet 10.244.1.0/24, VTEP 0e:00:00:00:01:00 on ifindex 9, public IP
// 192.168.0.1. Node 2: 10.244.2.0/24 behind 192.168.0.2, VTEP 0e:00:00:00:02:00, VNI 1.
// Pods A (10.244.1.2, the test-run skb's loopback) and B (10.244.1.3, ifindex 42) as in
// from_pod_test.cpp.
constexpr uint32_t kVxlanIfindex = 9;
const char* const kOurVtep = "0e0000000100";
const char* const kNode2Vtep = "0e0000000200";
constexpr uint32_t kNode2Underlay = 0xc0a80002;  // 192.168.0.2, host order
constexpr uint32_t kOurUnderlay = 0xc0a80001;

// ICMP echo 10.244.1.2 -> 10.244.2.5 (a pod on node 2), TTL 64, as pod A sends it.
inline const Bytes kPingAToRemote =
    hex("020000000a02 020000000102 0800"
        "450000201234400040010fbb0af401020af40205 080018b70077000170696e67");
// ...after from_pod: from our VTEP to node 2's, TTL 63, checksum patched.
inline const Bytes kPingAToRemoteEncapsulated =
    hex("0e0000000200 0e0000000100 0800"
        "45000020123440003f0110bb0af401020af40205 080018b70077000170696e67");
// ICMP echo 10.244.1.2 -> 10.244.3.5: in the cluster, but no node holds 10.244.3.0/24.
inline const Bytes kPingAToNowhere =
    hex("020000000a02 020000000102 0800"
        "450000201234400040010ebb0af401020af40305 080018b70077000170696e67");
// Decapsulated by our device: 10.244.2.5 -> pod B, TTL 63 (node 2 forwarded it once).
inline const Bytes kPingRemoteToB =
    hex("0e0000000100 0e0000000200 0800"
        "45000020123440003f0110ba0af402050af40103 080018b70077000170696e67");
// ...delivered into pod B: from B's host veth to B, TTL 62.
inline const Bytes kPingRemoteToBDelivered =
    hex("020000000103 020000000a03 0800"
        "45000020123440003e0111ba0af402050af40103 080018b70077000170696e67");
// Decapsulated, for this node itself (10.244.1.0 on the VXLAN device).
inline const Bytes kPingRemoteToHost =
    hex("0e0000000100 0e0000000200 0800"
        "45000020123440003f0110bd0af402050af40100 080018b70077000170696e67");
// Decapsulated, for an address of our subnet without a pod.
inline const Bytes kPingRemoteToNoPod =
    hex("0e0000000100 0e0000000200 0800"
        "45000020123440003f0110700af402050af4014d 080018b70077000170696e67");
// The host's packet 10.244.1.0 -> 10.244.2.5 as the stack hands it to the device: ARP is
// off, so the kernel addressed it to the device's own MAC.
inline const Bytes kHostToRemote =
    hex("0e0000000100 0e0000000100 0800"
        "450000201234400040010fbd0af401000af40205 080018b70077000170696e67");
// ...after to_overlay: to node 2's VTEP; the TTL is the stack's business.
inline const Bytes kHostToRemoteEncapsulated =
    hex("0e0000000200 0e0000000100 0800"
        "450000201234400040010fbd0af401000af40205 080018b70077000170696e67");
// Pod A's packet to node 2 that took the stack path (e.g. DNATed from a ClusterIP).
inline const Bytes kStackSendsAToRemote =
    hex("0e0000000100 0e0000000100 0800"
        "450000201234400040010fbb0af401020af40205 080018b70077000170696e67");
// The reply to it, decapsulated: 10.244.2.5 -> pod A.
inline const Bytes kReplyRemoteToA =
    hex("0e0000000100 0e0000000200 0800"
        "45000020123440003f0110bb0af402050af40102 080018b70077000170696e67");

inline shuttle_config overlay_config() {
    shuttle_config cfg{};
    cfg.layout_version = SHUTTLE_LAYOUT_VERSION;
    cfg.node_subnet = ip("10.244.1.0");
    cfg.node_subnet_len = 24;
    cfg.gateway = ip("10.244.1.1");
    cfg.cluster_network = ip("10.244.0.0");
    cfg.cluster_len = 16;
    cfg.vxlan_ifindex = kVxlanIfindex;
    cfg.vni = 1;
    set_mac(cfg.vtep_mac, kOurVtep);
    cfg.underlay_ip = htonl(kOurUnderlay);
    return cfg;
}

// The bench/probe object (it holds every datapath program) with this node's maps.
class OverlayNode : public Loaded<probes_bpf> {
  public:
    explicit OverlayNode(const shuttle_config& cfg = overlay_config(), uint64_t room_flags = 0)
        : Loaded<probes_bpf>(true, room_flags), cfg_(cfg) {
        set_config(cfg);
        add_endpoint(ip("10.244.1.2"), kSenderIfindex, kPodAMac, kHostAMac);
        add_endpoint(ip("10.244.1.3"), kPeerIfindex, kPodBMac, kHostBMac);
        add_route("10.244.2.0", 24, htonl(kNode2Underlay), kNode2Vtep);
        skel()->bss->probe_vni = 1;
    }

    // As set_routes writes a lease: into `routes`, and into its slot of `route_slots` when
    // the config has the slot layout (subnet length - cluster length <= 16).
    void add_route(const char* subnet, uint32_t len, uint32_t underlay, const char* vtep,
                   uint32_t vni = 1) {
        shuttle_route_key key{};
        key.subnet = ip(subnet);
        key.prefix_len = len;
        shuttle_route value{};
        value.underlay_ip = underlay;
        set_mac(value.vtep_mac, vtep);
        value.vni = vni;
        REQUIRE(bpf_map_update_elem(bpf_map__fd(skel()->maps.routes), &key, &value, 0) == 0);
        uint32_t leases = 1;  // as sync_route_slots keeps underlay_nodes
        REQUIRE(bpf_map_update_elem(bpf_map__fd(skel()->maps.underlay_nodes), &underlay, &leases,
                                    0) == 0);
        if (cfg_.node_subnet_len - cfg_.cluster_len <= SHUTTLE_ROUTE_SLOT_BITS) {
            uint32_t slot =
                (ntohl(key.subnet) - ntohl(cfg_.cluster_network)) >> (32 - cfg_.node_subnet_len);
            REQUIRE(slot < SHUTTLE_MAX_ROUTE_SLOTS);
            REQUIRE(bpf_map_update_elem(bpf_map__fd(skel()->maps.route_slots), &slot, &value, 0) ==
                    0);
        }
    }

    // Benchmarks: node 2 plus `count` - 1 other nodes' leases, 10.100.0.0/24 onwards.
    void add_bench_routes(int count) {
        for (int i = 1; i < count; ++i) {
            char subnet[32];
            std::snprintf(subnet, sizeof subnet, "10.%d.%d.0", 100 + i / 256, i % 256);
            add_route(subnet, 24, htonl(0xc0a80000 + static_cast<uint32_t>(i)), kNode2Vtep);
        }
    }
    // The packet every benchmark repetition restores first.
    void set_bench_packet(const Bytes& packet) {
        std::memcpy(skel()->bss->bench_packet, packet.data(), packet.size());
        skel()->bss->bench_len = static_cast<uint32_t>(packet.size());
    }

    RunResult run_named(bpf_program* program, const Bytes& in, uint32_t gso_size = 0) {
        return run_prog(bpf_program__fd(program), in, 1, nullptr, gso_size);
    }

    // The tunnel metadata the last *_read_key probe found (REQUIREs that there was one).
    // bpf_skb_get_tunnel_key reads it as a receiver would: its "remote" is the outer source,
    // so the outer destination set by bpf_skb_set_tunnel_key comes back as "local".
    struct Tunnel {
        uint32_t outer_dst = 0;  // host order
        uint32_t outer_src = 0;
        uint32_t vni = 0;
        uint8_t ttl = 0;
    };
    Tunnel tunnel() {
        REQUIRE(skel()->data->probe_key_rc == 0);
        const bpf_tunnel_key& key = skel()->bss->probe_key;
        return {key.local_ipv4, key.remote_ipv4, key.tunnel_id, key.tunnel_ttl};
    }
    bool has_tunnel_key() { return skel()->data->probe_key_rc == 0; }

  private:
    shuttle_config cfg_;
};

// The kernel's udp_flow_src_port() for a hash, over the default ip_local_port_range.
inline uint16_t expected_source_port(uint32_t hash) {
    hash ^= hash << 16;
    return static_cast<uint16_t>(((static_cast<uint64_t>(hash) * (60999 - 32768)) >> 32) + 32768);
}

// The flow hash test-run gives this packet (the flow dissector's), read by a probe.
inline uint32_t flow_hash_of(OverlayNode& node, const Bytes& packet) {
    node.run_named(node.skel()->progs.read_flow_hash, packet);
    return node.skel()->bss->probe_hash;
}

}  // namespace bpf_fixture
