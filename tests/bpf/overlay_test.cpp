// BPF_PROG_TEST_RUN tests of the overlay paths with byte-exact packet fixtures: from_pod's
// encapsulation, from_overlay's delivery of decapsulated packets and to_overlay's tunnel key
// for host traffic. Tunnel metadata is not packet data: the probes of tests/bpf/probes.bpf.c
// read it back after the program ran (probe_key), or give a test packet the metadata a
// decapsulating device would (probe_vni).
#include <catch2/catch.hpp>
#include <cstdio>

#include "bpf_fixture.h"

namespace {

using namespace bpf_fixture;

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
const Bytes kPingAToRemote =
    hex("020000000a02 020000000102 0800"
        "450000201234400040010fbb0af401020af40205 080018b70077000170696e67");
// ...after from_pod: from our VTEP to node 2's, TTL 63, checksum patched.
const Bytes kPingAToRemoteEncapsulated =
    hex("0e0000000200 0e0000000100 0800"
        "45000020123440003f0110bb0af401020af40205 080018b70077000170696e67");
// ICMP echo 10.244.1.2 -> 10.244.3.5: in the cluster, but no node holds 10.244.3.0/24.
const Bytes kPingAToNowhere =
    hex("020000000a02 020000000102 0800"
        "450000201234400040010ebb0af401020af40305 080018b70077000170696e67");
// Decapsulated by our device: 10.244.2.5 -> pod B, TTL 63 (node 2 forwarded it once).
const Bytes kPingRemoteToB =
    hex("0e0000000100 0e0000000200 0800"
        "45000020123440003f0110ba0af402050af40103 080018b70077000170696e67");
// ...delivered into pod B: from B's host veth to B, TTL 62.
const Bytes kPingRemoteToBDelivered =
    hex("020000000103 020000000a03 0800"
        "45000020123440003e0111ba0af402050af40103 080018b70077000170696e67");
// Decapsulated, for this node itself (10.244.1.0 on the VXLAN device).
const Bytes kPingRemoteToHost =
    hex("0e0000000100 0e0000000200 0800"
        "45000020123440003f0110bd0af402050af40100 080018b70077000170696e67");
// Decapsulated, for an address of our subnet without a pod.
const Bytes kPingRemoteToNoPod =
    hex("0e0000000100 0e0000000200 0800"
        "45000020123440003f0110700af402050af4014d 080018b70077000170696e67");
// The host's packet 10.244.1.0 -> 10.244.2.5 as the stack hands it to the device: ARP is
// off, so the kernel addressed it to the device's own MAC.
const Bytes kHostToRemote =
    hex("0e0000000100 0e0000000100 0800"
        "450000201234400040010fbd0af401000af40205 080018b70077000170696e67");
// ...after to_overlay: to node 2's VTEP; the TTL is the stack's business.
const Bytes kHostToRemoteEncapsulated =
    hex("0e0000000200 0e0000000100 0800"
        "450000201234400040010fbd0af401000af40205 080018b70077000170696e67");
// Pod A's packet to node 2 that took the stack path (e.g. DNATed from a ClusterIP).
const Bytes kStackSendsAToRemote =
    hex("0e0000000100 0e0000000100 0800"
        "450000201234400040010fbb0af401020af40205 080018b70077000170696e67");
// The reply to it, decapsulated: 10.244.2.5 -> pod A.
const Bytes kReplyRemoteToA =
    hex("0e0000000100 0e0000000200 0800"
        "45000020123440003f0110bb0af402050af40102 080018b70077000170696e67");

shuttle_config overlay_config() {
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
    explicit OverlayNode(const shuttle_config& cfg = overlay_config()) : cfg_(cfg) {
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
        if (cfg_.node_subnet_len - cfg_.cluster_len <= SHUTTLE_ROUTE_SLOT_BITS) {
            uint32_t slot =
                (ntohl(key.subnet) - ntohl(cfg_.cluster_network)) >> (32 - cfg_.node_subnet_len);
            REQUIRE(slot < SHUTTLE_MAX_ROUTE_SLOTS);
            REQUIRE(bpf_map_update_elem(bpf_map__fd(skel()->maps.route_slots), &slot, &value, 0) ==
                    0);
        }
    }

    RunResult run_named(bpf_program* program, const Bytes& in) {
        return run_prog(bpf_program__fd(program), in);
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

}  // namespace

TEST_CASE("from_pod encapsulates for a remote pod: inner MACs, TTL-1, tunnel key", "[bpf]") {
    OverlayNode node;
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key, kPingAToRemote);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPingAToRemoteEncapsulated);
    CHECK(ipv4_checksum(&r.out[14]) == 0xffff);
    auto tunnel = node.tunnel();
    CHECK(tunnel.outer_dst == kNode2Underlay);  // host byte order, as the helper wants it
    CHECK(tunnel.outer_src == kOurUnderlay);
    CHECK(tunnel.vni == 1);
    CHECK(tunnel.ttl == 64);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 1);

    // The attached program takes the same decision.
    RunResult attached = node.run_named(node.skel()->progs.from_pod, kPingAToRemote);
    CHECK(attached.retval == kTcActRedirect);
    CHECK(attached.out == kPingAToRemoteEncapsulated);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 2);
}

TEST_CASE("from_pod uses the route's VNI and node", "[bpf]") {
    OverlayNode node;
    node.add_route("10.244.2.0", 24, htonl(0xc0a80063), "0e0000000263", 7);
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key, kPingAToRemote);
    CHECK(r.retval == kTcActRedirect);
    CHECK(Bytes(r.out.begin(), r.out.begin() + 6) == hex("0e0000000263"));
    auto tunnel = node.tunnel();
    CHECK(tunnel.outer_dst == 0xc0a80063);
    CHECK(tunnel.vni == 7);
}

TEST_CASE("with more than 2^16 possible subnets the hash finds the route", "[bpf]") {
    shuttle_config cfg = overlay_config();
    cfg.cluster_network = ip("8.0.0.0");  // a /5 of /24 leases: 2^19 slots would be needed
    cfg.cluster_len = 5;
    OverlayNode node(cfg);
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key, kPingAToRemote);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPingAToRemoteEncapsulated);
    CHECK(node.tunnel().outer_dst == kNode2Underlay);
}

TEST_CASE("the packet path reads route_slots, not the hash, in the slot layout", "[bpf]") {
    OverlayNode node;
    uint32_t slot = 2;  // 10.244.2.0/24 in 10.244.0.0/16
    shuttle_route empty{};
    REQUIRE(bpf_map_update_elem(bpf_map__fd(node.skel()->maps.route_slots), &slot, &empty, 0) == 0);
    CHECK(node.run_named(node.skel()->progs.from_pod, kPingAToRemote).retval == kTcActOk);
    CHECK(node.run_named(node.skel()->progs.to_overlay, kHostToRemote).retval == kTcActShot);
}

TEST_CASE("from_pod passes cluster traffic without a route to the stack, unchanged", "[bpf]") {
    OverlayNode node;
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key, kPingAToNowhere);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kPingAToNowhere);
    CHECK_FALSE(node.has_tunnel_key());
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_LOCAL) == 1);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("without a VXLAN device from_pod leaves remote traffic to the stack", "[bpf]") {
    shuttle_config cfg = overlay_config();
    cfg.vxlan_ifindex = 0;
    OverlayNode node(cfg);
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key, kPingAToRemote);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kPingAToRemote);
    CHECK_FALSE(node.has_tunnel_key());
}

TEST_CASE("a route outside the cluster network is never used by from_pod", "[bpf]") {
    shuttle_config cfg = overlay_config();
    cfg.cluster_network = ip("10.244.0.0");
    cfg.cluster_len = 24;  // 10.244.2.5 is outside
    OverlayNode node(cfg);
    CHECK(node.run_named(node.skel()->progs.from_pod, kPingAToRemote).retval == kTcActOk);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("TTL 1 towards a remote pod is dropped, not encapsulated", "[bpf]") {
    OverlayNode node;
    Bytes in = with_ttl(kPingAToRemote, 1);
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key, in);
    CHECK(r.retval == kTcActShot);
    CHECK_FALSE(node.has_tunnel_key());
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_TTL_EXPIRED) == 1);
}

TEST_CASE("a spoofed sender is dropped before any route lookup", "[bpf]") {
    OverlayNode node;
    Bytes in = with_byte(kPingAToRemote, 11, 0x77);  // source MAC
    CHECK(node.run_named(node.skel()->progs.from_pod, in).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_MAC) == 1);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("from_overlay delivers a decapsulated packet into the local pod", "[bpf]") {
    OverlayNode node;
    RunResult r = node.run_named(node.skel()->progs.from_overlay_with_vni, kPingRemoteToB);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPingRemoteToBDelivered);
    CHECK(ipv4_checksum(&r.out[14]) == 0xffff);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP) == 1);
}

TEST_CASE("from_overlay passes what is not for a local pod up the stack, unchanged", "[bpf]") {
    OverlayNode node;
    for (const Bytes* in : {&kPingRemoteToHost, &kPingRemoteToNoPod}) {
        RunResult r = node.run_named(node.skel()->progs.from_overlay_with_vni, *in);
        CHECK(r.retval == kTcActOk);
        CHECK(r.out == *in);
    }
    Bytes ipv6 = with_byte(with_byte(kPingRemoteToB, 12, 0x86), 13, 0xdd);
    ipv6.resize(14 + 40 + 8);
    CHECK(node.run_named(node.skel()->progs.from_overlay_with_vni, ipv6).retval == kTcActOk);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_LOCAL) == 2);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NON_IP) == 1);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("from_overlay drops a packet of another VNI", "[bpf]") {
    OverlayNode node;
    node.skel()->bss->probe_vni = 2;
    RunResult r = node.run_named(node.skel()->progs.from_overlay_with_vni, kPingRemoteToB);
    CHECK(r.retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_WRONG_VNI) == 1);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("from_overlay drops TTL 1 and truncated IPv4", "[bpf]") {
    OverlayNode node;
    CHECK(node.run_named(node.skel()->progs.from_overlay_with_vni, with_ttl(kPingRemoteToB, 1))
              .retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_TTL_EXPIRED) == 1);
    CHECK(node.run_named(node.skel()->progs.from_overlay_with_vni,
                         with_byte(kPingRemoteToB, 14, 0x43))
              .retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_MALFORMED) == 1);
}

TEST_CASE("to_overlay sets the tunnel key and inner MACs for the host's packet", "[bpf]") {
    OverlayNode node;
    RunResult r = node.run_named(node.skel()->progs.to_overlay_then_read_key, kHostToRemote);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kHostToRemoteEncapsulated);
    auto tunnel = node.tunnel();
    CHECK(tunnel.outer_dst == kNode2Underlay);
    CHECK(tunnel.outer_src == kOurUnderlay);
    CHECK(tunnel.vni == 1);
    CHECK(tunnel.ttl == 64);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_ENCAP) == 1);
}

TEST_CASE("to_overlay drops and counts a packet no node's subnet holds", "[bpf]") {
    OverlayNode node;
    Bytes in = kHostToRemote;
    in[14 + 18] = 3;  // 10.244.3.5 (checksum now stale: to_overlay does not care)
    RunResult r = node.run_named(node.skel()->progs.to_overlay_then_read_key, in);
    CHECK(r.retval == kTcActShot);
    CHECK_FALSE(node.has_tunnel_key());
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_NO_ROUTE) == 1);
}

TEST_CASE("to_overlay leaves a packet from_pod encapsulated untouched", "[bpf]") {
    OverlayNode node;
    RunResult r =
        node.run_named(node.skel()->progs.to_overlay_after_from_pod, kPingAToRemoteEncapsulated);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kPingAToRemoteEncapsulated);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_ENCAPSULATED) == 1);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_ENCAP) == 0);
}

TEST_CASE("a pod flow the stack sent into the tunnel keeps its replies on the stack path",
          "[bpf]") {
    OverlayNode node;
    // Pod A's request went through the stack (a Service DNATed here to a pod on node 2).
    RunResult sent = node.run_named(node.skel()->progs.to_overlay, kStackSendsAToRemote);
    CHECK(sent.retval == kTcActOk);

    // The reply must reach conntrack, or A would see the pod's address, not the Service's.
    RunResult reply = node.run_named(node.skel()->progs.from_overlay_with_vni, kReplyRemoteToA);
    CHECK(reply.retval == kTcActOk);
    CHECK(reply.out == kReplyRemoteToA);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NAT_FLOW) == 1);
    // And A's own packets to that pod take the stack path too (the pair is the unit).
    CHECK(node.run_named(node.skel()->progs.from_pod, kPingAToRemote).retval == kTcActOk);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NAT_FLOW) == 2);
    // Pod B never talked through the stack: its delivery stays on the fast path.
    CHECK(node.run_named(node.skel()->progs.from_overlay_with_vni, kPingRemoteToB).retval ==
          kTcActRedirect);
}

TEST_CASE("the host's own packets into the tunnel mark no pod pair", "[bpf]") {
    OverlayNode node;
    CHECK(node.run_named(node.skel()->progs.to_overlay, kHostToRemote).retval == kTcActOk);
    CHECK(node.run_named(node.skel()->progs.from_pod, kPingAToRemote).retval == kTcActRedirect);
}

// Not a pass/fail test: prints each overlay path's cost per packet. Run with
//   shuttle_bpf_tests "[bench]"
// As in from_pod_test.cpp, every repetition restores the packet and the restore's cost is
// subtracted. Cluster 10.0.0.0/8 so that 5,000 /24 leases fit (the route_slots array), or
// 8.0.0.0/5, too wide for the array, so the hash map is the lookup.
TEST_CASE("ns per packet for the overlay paths at 10 and 5,000 routes", "[.][bench]") {
    constexpr int kRepeat = 1'000'000;
    using Program = bpf_program* (*)(probes_bpf*);
    struct Path {
        const char* name;
        Program program;
        const Bytes* packet;
        int expected;
    } paths[] = {
        {"from_pod: encap to a remote pod", [](auto* s) { return s->progs.restore_then_from_pod; },
         &kPingAToRemote, kTcActRedirect},
        {"from_overlay: decap into a local pod",
         [](auto* s) { return s->progs.restore_then_from_overlay; }, &kPingRemoteToB,
         kTcActRedirect},
        {"to_overlay: host packet, route + key (without the key check)",
         [](auto* s) { return s->progs.restore_then_to_overlay_verdict; }, &kHostToRemote,
         kTcActOk},
        {"to_overlay: the key check on a packet without one",
         [](auto* s) { return s->progs.piece_no_tunnel_key; }, &kHostToRemote, kTcActOk},
        {"to_overlay: packet from_pod encapsulated (the key check, found)",
         [](auto* s) { return s->progs.restore_then_to_overlay; }, &kPingAToRemoteEncapsulated,
         kTcActOk},
        {"route lookup alone", [](auto* s) { return s->progs.piece_route_lookup; }, &kPingAToRemote,
         kTcActOk},
        {"bpf_skb_set_tunnel_key alone", [](auto* s) { return s->progs.piece_set_tunnel_key; },
         &kPingAToRemote, kTcActOk},
        {"from_pod: local redirect (for comparison)",
         [](auto* s) { return s->progs.restore_then_from_pod; }, &kPingAToB, kTcActRedirect},
    };
    std::printf("| path | routes | ns/packet | ns incl. restore |\n|---|---|---|---|\n");
    for (auto [routes, slots] : {std::pair{10, true}, std::pair{5'000, true}, std::pair{10, false},
                                 std::pair{5'000, false}}) {
        shuttle_config cfg = overlay_config();
        cfg.cluster_network = ip(slots ? "10.0.0.0" : "8.0.0.0");  // /5: the hash lookup
        cfg.cluster_len = slots ? 8 : 5;
        for (const Path& path : paths) {
            // A fresh node per path: a path may leave state (a NAT pair) that changes another.
            OverlayNode node(cfg);
            for (int i = 1; i < routes; ++i) {  // 10.100.0.0/24 onwards
                char subnet[32];
                std::snprintf(subnet, sizeof subnet, "10.%d.%d.0", 100 + i / 256, i % 256);
                node.add_route(subnet, 24, htonl(0xc0a80000 + static_cast<uint32_t>(i)),
                               kNode2Vtep);
            }
            auto* skel = node.skel();
            std::memcpy(skel->bss->bench_packet, path.packet->data(), path.packet->size());
            skel->bss->bench_len = static_cast<uint32_t>(path.packet->size());
            uint32_t total = 0;
            uint32_t restore = 0;
            REQUIRE(
                node.run_prog(bpf_program__fd(path.program(skel)), *path.packet, kRepeat, &total)
                    .retval == path.expected);
            node.run_prog(bpf_program__fd(skel->progs.restore_only), *path.packet, kRepeat,
                          &restore);
            std::printf("| %s | %d (%s) | %d | %u |\n", path.name, routes,
                        slots ? "route_slots" : "hash",
                        static_cast<int>(total) - static_cast<int>(restore), total);
        }
    }
}
