// BPF_PROG_TEST_RUN tests of the direct overlay with byte-exact fixtures: from_pod pushing the
// VXLAN headers itself (direct mode) and from_underlay stripping them, refusing forged tunnel
// packets and leaving everything else untouched. Node setup as in overlay_test.cpp
// (overlay_fixture.h): this node 10.244.1.0/24 behind 192.168.0.1, node 2 10.244.2.0/24
// behind 192.168.0.2, VNI 1, pods A (10.244.1.2) and B (10.244.1.3).
#include <sched.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include "bpf_fixture.h"
#include "overlay_fixture.h"
#include "shell_commands.h"

namespace {

using namespace bpf_fixture;

// ---- from_pod, direct mode ----------------------------------------------------------------
// TCP SYN 10.244.1.2:54321 -> 10.244.2.5:443 from pod A, TOS 0x02 (ECT(0)).
const Bytes kTcpAToRemote =
    hex("020000000a02 020000000102 0800"
        "450200281234400040060fac0af401020af40205 d43101bb000003e8000000005002721000000000");
// ...encapsulated: the pod's Ethernet header kept in front (bpf_redirect_neigh rewrites both
// MACs), outer IPv4 192.168.0.1 -> 192.168.0.2 with the inner ECN bits, no DF, TTL 64, UDP
// to 8472 without checksum, VXLAN VNI 1, inner Ethernet VTEP -> VTEP, inner TTL 63.
// Outer IP ID, its checksum and the UDP source port vary: zeroed here, checked apart.
const Bytes kTcpAToRemoteEncapsulated =
    hex("020000000a02 020000000102 0800"
        "4502005a 0000 0000 40 11 0000 c0a80001 c0a80002"
        "0000 2118 0046 0000"
        "08000000 00000100"
        "0e0000000200 0e0000000100 0800"
        "45020028123440003f0610ac0af401020af40205 d43101bb000003e8000000005002721000000000");
// UDP 10.244.1.2:54321 -> 10.244.2.5:53 from pod A, TOS 0x03 (CE): the outer says ECT(0).
const Bytes kUdpAToRemote =
    hex("020000000a02 020000000102 0800"
        "450300241234400040110fa40af401020af40205 d43100350010000068656c6c6f212121");
const Bytes kUdpAToRemoteEncapsulated =
    hex("020000000a02 020000000102 0800"
        "45020056 0000 0000 40 11 0000 c0a80001 c0a80002"
        "0000 2118 0042 0000"
        "08000000 00000100"
        "0e0000000200 0e0000000100 0800"
        "45030024123440003f1110a40af401020af40205 d43100350010000068656c6c6f212121");

// ---- from_underlay ------------------------------------------------------------------------
// VXLAN from node 2 (192.168.0.2 -> 192.168.0.1, UDP 54321 -> 8472, VNI 1) carrying an ICMP
// echo 10.244.2.5 -> pod B, inner TTL 63.
const char* const kVxlanToB =
    "02000000c001 02000000c002 0800"
    "45000052432100004011b626c0a80002c0a80001 d4312118003e0000 0800000000000100"
    "0e0000000100 0e0000000200 0800"
    "45000020123440003f0110ba0af402050af40103 080018b70077000170696e67";
// ...delivered into pod B: the outer headers gone, as kPingRemoteToBDelivered (MACs of B's
// link, TTL 62).

// Variants of kVxlanToB (outer and inner checksums valid).
const Bytes kFromUnknownNode =  // outer source 192.168.0.99
    hex("02000000c001 02000000c002 0800"
        "45000052432100004011b5c5c0a80063c0a80001 d4312118003e0000 0800000000000100"
        "0e0000000100 0e0000000200 0800"
        "45000020123440003f0110ba0af402050af40103 080018b70077000170696e67");
const Bytes kForgedInnerSource =  // node 2 sends from 10.244.3.5 (no node's subnet)
    hex("02000000c001 02000000c002 0800"
        "45000052432100004011b626c0a80002c0a80001 d4312118003e0000 0800000000000100"
        "0e0000000100 0e0000000200 0800"
        "45000020123440003f010fba0af403050af40103 080018b70077000170696e67");
const Bytes kForgedLocalSource =  // node 2 sends from pod A's address
    hex("02000000c001 02000000c002 0800"
        "45000052432100004011b626c0a80002c0a80001 d4312118003e0000 0800000000000100"
        "0e0000000100 0e0000000200 0800"
        "45000020123440003f0111bd0af401020af40103 080018b70077000170696e67");
const Bytes kOtherVni =  // VNI 2
    hex("02000000c001 02000000c002 0800"
        "45000052432100004011b626c0a80002c0a80001 d4312118003e0000 0800000000000200"
        "0e0000000100 0e0000000200 0800"
        "45000020123440003f0110ba0af402050af40103 080018b70077000170696e67");
const Bytes kOuterFragment =  // MF set
    hex("02000000c001 02000000c002 0800"
        "450000524321200040119626c0a80002c0a80001 d4312118003e0000 0800000000000100"
        "0e0000000100 0e0000000200 0800"
        "45000020123440003f0110ba0af402050af40103 080018b70077000170696e67");
const Bytes kOuterOptions =  // IHL 6, one NOP-padded option
    hex("02000000c001 02000000c002 0800"
        "46000056432100004011b321c0a80002c0a80001 01010100 d4312118003e0000 0800000000000100"
        "0e0000000100 0e0000000200 0800"
        "45000020123440003f0110ba0af402050af40103 080018b70077000170696e67");
const Bytes kForNoPod =  // inner destination 10.244.1.77: no pod there
    hex("02000000c001 02000000c002 0800"
        "45000052432100004011b626c0a80002c0a80001 d4312118003e0000 0800000000000100"
        "0e0000000100 0e0000000200 0800"
        "45000020123440003f0110700af402050af4014d 080018b70077000170696e67");
const Bytes kForTheHost =  // inner destination 10.244.1.0: this node's own address
    hex("02000000c001 02000000c002 0800"
        "45000052432100004011b626c0a80002c0a80001 d4312118003e0000 0800000000000100"
        "0e0000000100 0e0000000200 0800"
        "45000020123440003f0110bd0af402050af40100 080018b70077000170696e67");
const Bytes kNotToUs =  // outer destination 192.168.0.7
    hex("02000000c001 02000000c002 0800"
        "45000052432100004011b620c0a80002c0a80007 d4312118003e0000 0800000000000100"
        "0e0000000100 0e0000000200 0800"
        "45000020123440003f0110ba0af402050af40103 080018b70077000170696e67");
const Bytes kGroupPolicyFlags =  // VXLAN-GBP's G bit with the I bit
    hex("02000000c001 02000000c002 0800"
        "45000052432100004011b626c0a80002c0a80001 d4312118003e0000 8800000000000100"
        "0e0000000100 0e0000000200 0800"
        "45000020123440003f0110ba0af402050af40103 080018b70077000170696e67");
const Bytes kInnerTtl1 =
    hex("02000000c001 02000000c002 0800"
        "45000052432100004011b626c0a80002c0a80001 d4312118003e0000 0800000000000100"
        "0e0000000100 0e0000000200 0800"
        "450000201234400001014eba0af402050af40103 080018b70077000170696e67");
// Other traffic to this node: DNS over UDP, TCP (ssh-like).
const Bytes kDnsToUs =
    hex("02000000c001 02000000c002 0800"
        "45000020123440004011a745c0a80002c0a80001 d4310035000c0000 61626364");
const Bytes kTcpToUs =
    hex("02000000c001 02000000c002 0800"
        "45000028123440004006a748c0a80002c0a80001 d43101bb000003e8000000005002721000000000");

shuttle_config direct_config() {
    shuttle_config cfg = overlay_config();
    cfg.flags |= SHUTTLE_CONFIG_F_DIRECT_OVERLAY;
    cfg.underlay_ifindex = kSenderIfindex;  // loopback of the test's netns: MTU 65536
    return cfg;
}

// The outer IPv4 ID, its checksum and the UDP source port zeroed (they vary by design).
Bytes without_varying_fields(Bytes frame) {
    for (size_t offset : {14 + 4, 14 + 5, 14 + 10, 14 + 11, 34, 35}) {
        frame.at(offset) = 0;
    }
    return frame;
}

uint16_t udp_source_port(const Bytes& frame) {
    return static_cast<uint16_t>(frame.at(34) << 8 | frame.at(35));
}

void check_encapsulated(OverlayNode& node, const Bytes& in, const RunResult& r,
                        const Bytes& expected) {
    CHECK(r.retval == kTcActRedirect);
    REQUIRE(r.out.size() == expected.size());
    CHECK(without_varying_fields(r.out) == expected);
    CHECK(ipv4_checksum(&r.out[14]) == 0xffff);       // outer
    CHECK(ipv4_checksum(&r.out[14 + 50]) == 0xffff);  // inner, after TTL-1
    uint16_t port = udp_source_port(r.out);
    CHECK(port >= 32768);
    CHECK(port < 60999);
    CHECK(port == expected_source_port(flow_hash_of(node, in)));
}

}  // namespace

TEST_CASE("direct mode: from_pod encapsulates a TCP packet as the VXLAN device would", "[bpf]") {
    OverlayNode node(direct_config());
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key, kTcpAToRemote);
    check_encapsulated(node, kTcpAToRemote, r, kTcpAToRemoteEncapsulated);
    CHECK_FALSE(node.has_tunnel_key());  // no metadata: nothing for a device to do
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ENCAP_DIRECT) == 1);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 0);
}

TEST_CASE("direct mode: from_pod encapsulates a UDP packet, CE becomes ECT(0) outside", "[bpf]") {
    OverlayNode node(direct_config());
    RunResult r = node.run_named(node.skel()->progs.from_pod, kUdpAToRemote);
    check_encapsulated(node, kUdpAToRemote, r, kUdpAToRemoteEncapsulated);
}

TEST_CASE("direct mode: the configured VXLAN port and the route's VNI and node", "[bpf]") {
    shuttle_config cfg = direct_config();
    cfg.vxlan_port = htons(4789);
    OverlayNode node(cfg);
    node.add_route("10.244.2.0", 24, htonl(0xc0a80063), "0e0000000263", 7);
    RunResult r = node.run_named(node.skel()->progs.from_pod, kUdpAToRemote);
    REQUIRE(r.retval == kTcActRedirect);
    CHECK(Bytes(r.out.begin() + 30, r.out.begin() + 34) == hex("c0a80063"));  // outer dst
    CHECK(Bytes(r.out.begin() + 36, r.out.begin() + 38) == hex("12b5"));      // 4789
    CHECK(Bytes(r.out.begin() + 42, r.out.begin() + 50) == hex("0800000000000700"));
    CHECK(Bytes(r.out.begin() + 50, r.out.begin() + 56) == hex("0e0000000263"));
}

TEST_CASE("direct mode off: from_pod takes the device path as before", "[bpf]") {
    shuttle_config cfg = direct_config();
    cfg.flags &= ~SHUTTLE_CONFIG_F_DIRECT_OVERLAY;
    OverlayNode node(cfg);
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key, kPingAToRemote);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPingAToRemoteEncapsulated);
    CHECK(node.tunnel().outer_dst == kNode2Underlay);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 1);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ENCAP_DIRECT) == 0);
}

TEST_CASE("direct mode without an underlay interface falls back to the device", "[bpf]") {
    shuttle_config cfg = direct_config();
    cfg.underlay_ifindex = 0;
    OverlayNode node(cfg);
    RunResult r = node.run_named(node.skel()->progs.from_pod, kPingAToRemote);
    CHECK(r.out == kPingAToRemoteEncapsulated);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 1);
}

TEST_CASE("direct mode: a packet too big for the underlay's MTU takes the device path", "[bpf]") {
    // A network namespace of this test, whose loopback gets a small MTU.
    REQUIRE(unshare(CLONE_NEWNET) == 0);
    shuttle::test::must("ip link set lo mtu 1000");
    OverlayNode node(direct_config());
    Bytes fits = kUdpAToRemote;  // 50 + 36 bytes of IPv4
    RunResult small = node.run_named(node.skel()->progs.from_pod, fits);
    CHECK(small.retval == kTcActRedirect);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ENCAP_DIRECT) == 1);

    // IPv4 length 951: 1001 bytes once encapsulated.
    Bytes big = kUdpAToRemote;
    big.resize(14 + 951, 0x61);
    big[14 + 2] = 951 >> 8;
    big[14 + 3] = 951 & 0xff;
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key, big);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out.size() == big.size());  // not grown: the device's job
    CHECK(node.tunnel().outer_dst == kNode2Underlay);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 1);

    big.resize(14 + 950);  // exactly 1000 once encapsulated: fits
    big[14 + 3] = 950 & 0xff;
    CHECK(node.run_named(node.skel()->progs.from_pod, big).out.size() == big.size() + 50);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ENCAP_DIRECT) == 2);
}

TEST_CASE("direct mode: TTL 1 is dropped, a spoofed sender too, nothing is grown", "[bpf]") {
    OverlayNode node(direct_config());
    CHECK(node.run_named(node.skel()->progs.from_pod, with_ttl(kTcpAToRemote, 1)).retval ==
          kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_TTL_EXPIRED) == 1);
    CHECK(node.run_named(node.skel()->progs.from_pod, with_byte(kTcpAToRemote, 11, 0x77)).retval ==
          kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_MAC) == 1);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("from_underlay strips VXLAN from a node and delivers into the pod", "[bpf]") {
    OverlayNode node(direct_config());
    RunResult r = node.run_named(node.skel()->progs.from_underlay, hex(kVxlanToB));
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPingRemoteToBDelivered);
    CHECK(ipv4_checksum(&r.out[14]) == 0xffff);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP_DIRECT) == 1);
}

TEST_CASE("from_underlay also decapsulates with direct mode off (receive needs no flag)", "[bpf]") {
    OverlayNode node;  // flags 0: from_pod sends through the device, peers may not
    RunResult r = node.run_named(node.skel()->progs.from_underlay, hex(kVxlanToB));
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPingRemoteToBDelivered);
}

TEST_CASE("from_underlay drops forged tunnel packets, each with its reason", "[bpf]") {
    OverlayNode node(direct_config());
    struct Case {
        const Bytes* packet;
        uint32_t reason;
    } cases[] = {{&kFromUnknownNode, SHUTTLE_DROP_UNKNOWN_NODE},
                 {&kForgedInnerSource, SHUTTLE_DROP_FORGED_INNER_SRC},
                 {&kForgedLocalSource, SHUTTLE_DROP_FORGED_INNER_SRC},
                 {&kOtherVni, SHUTTLE_DROP_WRONG_VNI},
                 {&kInnerTtl1, SHUTTLE_DROP_TTL_EXPIRED}};
    for (const Case& c : cases) {
        uint64_t before = node.counted(SHUTTLE_VERDICT_DROP, c.reason);
        CHECK(node.run_named(node.skel()->progs.from_underlay, *c.packet).retval == kTcActShot);
        CHECK(node.counted(SHUTTLE_VERDICT_DROP, c.reason) == before + 1);
    }
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("a node's reply from its own underlay address passes the sender check", "[bpf]") {
    // Node 2's host answers pod B from 192.168.0.2 (B reached it unmasqueraded): its routes
    // send the reply through the tunnel with that inner source. Another node's address or
    // one the outer source does not claim is still refused.
    Bytes reply = hex(kVxlanToB);
    const size_t inner_src = 14 + 50 + 12;
    for (size_t i = 0; i < 4; ++i) {
        reply.at(inner_src + i) = hex("c0a80002").at(i);
    }
    OverlayNode node(direct_config());
    RunResult r = node.run_named(node.skel()->progs.from_underlay, reply);
    CHECK(r.retval == kTcActRedirect);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP_DIRECT) == 1);
    Bytes other = reply;
    other.at(inner_src + 3) = 0x63;  // 192.168.0.99
    CHECK(node.run_named(node.skel()->progs.from_underlay, other).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_FORGED_INNER_SRC) == 1);
    node.add_route("10.244.9.0", 24, htonl(0xc0a80009), "0e0000000900");
    other.at(inner_src + 3) = 0x09;  // 192.168.0.9, a node, but not the sender
    CHECK(node.run_named(node.skel()->progs.from_underlay, other).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_FORGED_INNER_SRC) == 2);
    // The device path: from_overlay with node 2 as the outer source.
    Bytes decapsulated = kPingRemoteToB;
    for (size_t i = 0; i < 4; ++i) {
        decapsulated.at(14 + 12 + i) = hex("c0a80002").at(i);
    }
    CHECK(node.run_named(node.skel()->progs.from_overlay_with_vni, decapsulated).retval ==
          kTcActRedirect);
}

TEST_CASE("from_underlay leaves what the direct path does not take encapsulated", "[bpf]") {
    OverlayNode node(direct_config());
    Bytes truncated_udp = hex(kVxlanToB);
    truncated_udp.resize(14 + 20 + 4);
    Bytes truncated_vxlan = hex(kVxlanToB);
    truncated_vxlan.resize(14 + 20 + 8 + 4);
    Bytes truncated_inner_eth = hex(kVxlanToB);
    truncated_inner_eth.resize(14 + 20 + 8 + 8 + 10);
    Bytes truncated_inner_ip = hex(kVxlanToB);
    truncated_inner_ip.resize(14 + 20 + 8 + 8 + 14 + 12);
    Bytes inner_ipv6 = with_byte(with_byte(hex(kVxlanToB), 62, 0x86), 63, 0xdd);
    for (const Bytes* in : std::initializer_list<const Bytes*>{
             &kOuterFragment, &kOuterOptions, &kForNoPod, &kForTheHost, &kGroupPolicyFlags,
             &truncated_udp, &truncated_vxlan, &truncated_inner_eth, &truncated_inner_ip,
             &inner_ipv6}) {
        RunResult r = node.run_named(node.skel()->progs.from_underlay, *in);
        CHECK(r.retval == kTcActOk);
        CHECK(r.out == *in);
    }
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_TO_DEVICE) == 10);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("from_underlay leaves GSO packets and NATed pairs to the device", "[bpf]") {
    OverlayNode node(direct_config());
    RunResult gso = node.run_named(node.skel()->progs.from_underlay, hex(kVxlanToB), 1398);
    CHECK(gso.retval == kTcActOk);
    CHECK(gso.out == hex(kVxlanToB));

    // Pod B's request went out through the stack (a Service): its replies must reach conntrack.
    const Bytes stack_sends_b =
        hex("0e0000000100 0e0000000100 0800"
            "450000201234400040010fba0af401030af40205 080018b70077000170696e67");
    REQUIRE(node.run_named(node.skel()->progs.to_overlay, stack_sends_b).retval == kTcActOk);
    RunResult nat = node.run_named(node.skel()->progs.from_underlay, hex(kVxlanToB));
    CHECK(nat.retval == kTcActOk);
    CHECK(nat.out == hex(kVxlanToB));
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_TO_DEVICE) == 2);
}

TEST_CASE("from_underlay passes every other packet untouched", "[bpf]") {
    OverlayNode node(direct_config());
    for (const Bytes* in : {&kNotToUs, &kDnsToUs, &kTcpToUs, &kPingAToB}) {
        RunResult r = node.run_named(node.skel()->progs.from_underlay, *in);
        CHECK(r.retval == kTcActOk);
        CHECK(r.out == *in);
    }
    Bytes arp =
        hex("ffffffffffff 02000000c002 0806 0001080006040001 02000000c002 c0a80002"
            "000000000000 c0a80001");
    CHECK(node.run_named(node.skel()->progs.from_underlay, arp).retval == kTcActOk);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_VXLAN) == 5);
}

TEST_CASE("from_underlay honours the configured VXLAN port", "[bpf]") {
    shuttle_config cfg = direct_config();
    cfg.vxlan_port = htons(4789);
    OverlayNode node(cfg);
    RunResult r = node.run_named(node.skel()->progs.from_underlay, hex(kVxlanToB));
    CHECK(r.retval == kTcActOk);  // 8472 is not VXLAN here
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_VXLAN) == 1);
}

TEST_CASE("from_overlay refuses forged packets on the device path too", "[bpf]") {
    OverlayNode node;
    // Decapsulated by the device: the probe gives it node 2's outer source (probe_outer_src).
    CHECK(node.run_named(node.skel()->progs.from_overlay_with_vni, kPingRemoteToB).retval ==
          kTcActRedirect);
    node.skel()->data->probe_outer_src = 0xc0a80063;  // 192.168.0.99: no node
    CHECK(node.run_named(node.skel()->progs.from_overlay_with_vni, kPingRemoteToB).retval ==
          kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_UNKNOWN_NODE) == 1);
    node.skel()->data->probe_outer_src = kNode2Underlay;
    Bytes forged = kPingRemoteToB;
    forged[14 + 14] = 3;  // from 10.244.3.5
    CHECK(node.run_named(node.skel()->progs.from_overlay_with_vni, forged).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_FORGED_INNER_SRC) == 1);
}

// Not a pass/fail test: the direct overlay's cost per packet. Run with
//   shuttle_bpf_tests "[bench]"
// As for the other paths every repetition restores the packet first; here the restore also
// undoes the length change (encapsulation +50, strip -50) with one bpf_skb_adjust_room, whose
// cost (half of a grow-and-shrink) is subtracted with the restore's. The encapsulation runs
// without the ENCAP flags of bpf_skb_adjust_room (test-run's one skb would stay marked
// encapsulated, and every later grow refused): those set a few skb fields.
TEST_CASE("ns per packet for the direct overlay paths at 10 and 5,000 routes", "[.][bench]") {
    constexpr int kRepeat = 1'000'000;
    constexpr uint64_t kBenchRoomFlags = BPF_F_ADJ_ROOM_FIXED_GSO;
    using Program = bpf_program* (*)(probes_bpf*);
    const Bytes vxlan_to_b = hex(kVxlanToB);
    struct Path {
        const char* name;
        Program program;
        const Bytes* packet;
        int expected;
        bool resized;
        bool direct_mode = true;
    } paths[] = {
        {"from_pod: direct encap to a remote pod (ICMP)",
         [](auto* s) { return s->progs.restore_resized_then_from_pod; }, &kPingAToRemote,
         kTcActRedirect, true},
        {"from_pod: direct encap to a remote pod (TCP)",
         [](auto* s) { return s->progs.restore_resized_then_from_pod; }, &kTcpAToRemote,
         kTcActRedirect, true},
        {"from_underlay: decap into a local pod",
         [](auto* s) { return s->progs.restore_resized_then_from_underlay; }, &vxlan_to_b,
         kTcActRedirect, true},
        {"from_underlay: not VXLAN (TCP to the node)",
         [](auto* s) { return s->progs.restore_resized_then_from_underlay; }, &kTcpToUs, kTcActOk,
         false},
        {"from_underlay: not VXLAN (UDP to the node)",
         [](auto* s) { return s->progs.restore_resized_then_from_underlay; }, &kDnsToUs, kTcActOk,
         false},
        {"from_underlay: refused, unknown node",
         [](auto* s) { return s->progs.restore_resized_then_from_underlay; }, &kFromUnknownNode,
         kTcActShot, false},
        {"piece: bpf_check_mtu", [](auto* s) { return s->progs.piece_check_mtu; }, &kPingAToRemote,
         kTcActOk, false},
        {"piece: bpf_get_hash_recalc", [](auto* s) { return s->progs.piece_flow_hash; },
         &kPingAToRemote, kTcActOk, false},
        {"piece: bpf_get_prandom_u32", [](auto* s) { return s->progs.piece_prandom; },
         &kPingAToRemote, kTcActOk, false},
        {"piece: bpf_skb_adjust_room +50 then -50",
         [](auto* s) { return s->progs.resize_twice_then_restore; }, &kPingAToRemote, kTcActOk,
         false},
        {"piece: outer headers written", [](auto* s) { return s->progs.piece_fill_headers; },
         &vxlan_to_b, kTcActOk, false},
        {"from_pod: device-path encap (for comparison)",
         [](auto* s) { return s->progs.restore_then_from_pod; }, &kPingAToRemote, kTcActRedirect,
         false, false},
    };
    std::printf("| path | routes | ns/packet | ns incl. restore |\n|---|---|---|---|\n");
    for (int routes : {10, 5'000}) {
        for (const Path& path : paths) {
            shuttle_config cfg = direct_config();
            cfg.cluster_network = ip("10.0.0.0");
            cfg.cluster_len = 8;
            if (!path.direct_mode) {
                cfg.flags &= ~SHUTTLE_CONFIG_F_DIRECT_OVERLAY;
            }
            OverlayNode node(cfg, kBenchRoomFlags);
            node.add_bench_routes(routes);
            node.set_bench_packet(*path.packet);
            auto* skel = node.skel();
            uint32_t total = 0, restore = 0, resize_twice = 0;
            REQUIRE(
                node.run_prog(bpf_program__fd(path.program(skel)), *path.packet, kRepeat, &total)
                    .retval == path.expected);
            node.run_prog(bpf_program__fd(skel->progs.restore_only), *path.packet, kRepeat,
                          &restore);
            int subtracted = static_cast<int>(restore);
            if (path.resized) {
                REQUIRE(node.run_prog(bpf_program__fd(skel->progs.resize_twice_then_restore),
                                      *path.packet, kRepeat, &resize_twice)
                            .retval == kTcActOk);
                subtracted += (static_cast<int>(resize_twice) - static_cast<int>(restore)) / 2;
            }
            std::printf("| %s | %d | %d | %u |\n", path.name, routes,
                        static_cast<int>(total) - subtracted, total);
        }
    }
}
