// BPF_PROG_TEST_RUN tests of the overlay paths with byte-exact packet fixtures: from_pod's
// encapsulation, from_overlay's delivery of decapsulated packets and to_overlay's tunnel key
// for host traffic. Tunnel metadata is not packet data: the probes of tests/bpf/probes.bpf.c
// read it back after the program ran (probe_key), or give a test packet the metadata a
// decapsulating device would (probe_vni).
#include <catch2/catch.hpp>
#include <cstdio>

#include "bpf_fixture.h"
#include "ipv6_fixture.h"
#include "overlay_fixture.h"

using namespace bpf_fixture;

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

namespace {

// ICMPv6 echo fd00:10:244:2::5 (a pod on node 2) -> fd00:10:244:1::2 (pod A), hop limit 63,
// as the device hands it to from_overlay after decapsulating.
const Bytes kPing6RemoteToA =
    hex("0e0000000100 0e0000000200 86dd"
        "60000000000c3a3ffd000010024400020000000000000005fd000010024400010000000000000002"
        "8000a1bc0077000170696e67");

// A node whose shuttled wrote node 2's IPv6 half into peers6 (PublicIPv6 fd77::12, the
// probe's outer source; subnet fd00:10:244:2::/64) and turned the check on.
struct Ipv6PeersNode : OverlayNode {
    Ipv6PeersNode() {
        shuttle_ip6 node2 = ip6("fd77::12");
        shuttle_peer6 peer{};
        std::memcpy(peer.subnet, ip6("fd00:10:244:2::").addr, 16);
        peer.subnet_len = 64;
        REQUIRE(bpf_map_update_elem(bpf_map__fd(skel()->maps.peers6), &node2, &peer, 0) == 0);
        shuttle_config cfg = overlay_config();
        cfg.flags |= SHUTTLE_CONFIG_F_IPV6_PEERS;
        set_config(cfg);
    }
    RunResult arrive6(const Bytes& frame) {
        return run_named(skel()->progs.from_overlay_with_key6, frame);
    }
};

Bytes with_inner_source6(Bytes frame, const char* address) {
    shuttle_ip6 a = ip6(address);
    std::memcpy(&frame.at(14 + 8), a.addr, 16);
    return frame;
}

}  // namespace

TEST_CASE("from_overlay checks IPv6 tunnel packets: the node, the inner source, the VNI", "[bpf]") {
    Ipv6PeersNode node;
    for (const Bytes& ok : {kPing6RemoteToA, with_inner_source6(kPing6RemoteToA, "fd77::12")}) {
        RunResult r = node.arrive6(ok);  // node 2's pod, or node 2's own address
        CHECK(r.retval == kTcActOk);
        CHECK(r.out == ok);
    }
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_LOCAL) == 2);

    for (const char* forged : {"fd00:10:244:1::3", "fd00:10:244:3::5", "2001:db8::1"}) {
        INFO("inner source " << forged);  // this node's pod, another node's, outside
        CHECK(node.arrive6(with_inner_source6(kPing6RemoteToA, forged)).retval == kTcActShot);
    }
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_FORGED_INNER_SRC) == 3);

    node.skel()->data->probe_outer_src6[3] = htonl(0x99);  // fd77::99: no node
    CHECK(node.arrive6(kPing6RemoteToA).retval == kTcActShot);
    node.skel()->data->probe_outer_src6[3] = htonl(0x12);
    node.skel()->bss->probe_outer_ipv4 = 1;  // node 2's IPv4 address carrying IPv6
    CHECK(node.arrive6(kPing6RemoteToA).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_UNKNOWN_NODE) == 2);
    node.skel()->bss->probe_outer_ipv4 = 0;

    node.skel()->bss->probe_vni = 2;
    CHECK(node.arrive6(kPing6RemoteToA).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_WRONG_VNI) == 1);
    node.skel()->bss->probe_vni = 1;

    CHECK(node.arrive6(with_byte(kPing6RemoteToA, 14, 0x40)).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_MALFORMED) == 1);
    CHECK(node.arrive6(kPing6RemoteToA).retval == kTcActOk);  // the state did not stick
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("from_overlay passes IPv6 unchecked until shuttled wrote the IPv6 peers", "[bpf]") {
    OverlayNode node;  // peers6 empty, no SHUTTLE_CONFIG_F_IPV6_PEERS: a shuttled before it
    node.skel()->data->probe_outer_src6[3] = htonl(0x99);
    Bytes forged = with_inner_source6(kPing6RemoteToA, "fd00:10:244:1::3");
    RunResult r = node.run_named(node.skel()->progs.from_overlay_with_key6, forged);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == forged);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NON_IP) == 1);
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
            node.add_bench_routes(routes);
            node.set_bench_packet(*path.packet);
            auto* skel = node.skel();
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
