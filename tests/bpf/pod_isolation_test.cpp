// What a pod cannot send (docs/ARCHITECTURE.md, "Security review"): ARP claiming another
// pod's address, and tunnel packets to a node's VXLAN port, which masquerading would send
// from this node's underlay address (the receiver's sender check would then take any inner
// source of this node's subnet). BPF_PROG_TEST_RUN on the probes object (every program),
// with overlay_fixture.h's node: pods A (the test-run skb's device) and B, node 2 at
// 192.168.0.2, this node at 192.168.0.1.
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <cstdint>

#include "bpf_fixture.h"
#include "overlay_fixture.h"

using namespace bpf_fixture;

namespace {

struct UdpFromA {
    uint32_t dst = kNode2Underlay;  // host order
    uint16_t dport = 8472;
    uint8_t ihl = 5;             // header words; options are NOPs
    uint16_t frag_off = 0x4000;  // DF
    size_t payload = 16;
    bool udp_header = true;  // false: the frame ends after the IPv4 header
};

// Pod A's UDP datagram (from its MAC to its host veth's), IPv4 header checksum right.
Bytes udp_from_a(const UdpFromA& p) {
    Bytes b = hex("020000000a02 020000000102 0800");
    const size_t ip_len = p.ihl * 4u, udp_len = p.udp_header ? 8 + p.payload : 0;
    const size_t total = ip_len + udp_len;
    const uint32_t src = 0x0af40102;  // 10.244.1.2
    Bytes ip = {static_cast<uint8_t>(0x40 | p.ihl),
                0,
                static_cast<uint8_t>(total >> 8),
                static_cast<uint8_t>(total),
                0x12,
                0x34,
                static_cast<uint8_t>(p.frag_off >> 8),
                static_cast<uint8_t>(p.frag_off),
                64,
                17,
                0,
                0};
    for (uint32_t a : {src, p.dst}) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            ip.push_back(static_cast<uint8_t>(a >> shift));
        }
    }
    ip.resize(ip_len, 0x01);  // NOP options
    uint32_t sum = 0;
    for (size_t i = 0; i < ip_len; i += 2) {
        sum += (ip[i] << 8) | ip[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10] = static_cast<uint8_t>(~sum >> 8);
    ip[11] = static_cast<uint8_t>(~sum);
    b.insert(b.end(), ip.begin(), ip.end());
    if (p.udp_header) {
        Bytes udp = {0x9c,
                     0x40,
                     static_cast<uint8_t>(p.dport >> 8),
                     static_cast<uint8_t>(p.dport),
                     static_cast<uint8_t>(udp_len >> 8),
                     static_cast<uint8_t>(udp_len),
                     0,
                     0};
        udp.resize(udp_len, 0);
        b.insert(b.end(), udp.begin(), udp.end());
    }
    return b;
}

int verdict(OverlayNode& node, const UdpFromA& p) {
    return node.run_named(node.skel()->progs.from_pod, udp_from_a(p)).retval;
}

uint64_t tunnel_drops(OverlayNode& node) {
    return node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_TUNNEL_FROM_POD);
}

}  // namespace

TEST_CASE("a pod's UDP to a node's VXLAN port is dropped as tunnel-from-pod", "[bpf]") {
    OverlayNode node;
    CHECK(verdict(node, {}) == kTcActShot);                     // node 2
    CHECK(verdict(node, {.dst = kOurUnderlay}) == kTcActShot);  // this node
    CHECK(verdict(node, {.ihl = 7}) == kTcActShot);             // behind IP options
    CHECK(verdict(node, {.frag_off = 0x2000}) == kTcActShot);   // a first fragment
    CHECK(verdict(node, {.udp_header = false}) == kTcActShot);  // no room for the header
    CHECK(tunnel_drops(node) == 5);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_LOCAL) == 0);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("the tunnel-from-pod check follows the configured VXLAN port", "[bpf]") {
    shuttle_config cfg = overlay_config();
    cfg.vxlan_port = htons(4789);
    OverlayNode node(cfg);
    CHECK(verdict(node, {.dport = 4789}) == kTcActShot);
    CHECK(verdict(node, {.dport = 8472}) == kTcActOk);
    CHECK(tunnel_drops(node) == 1);
}

TEST_CASE("a pod's other traffic to node addresses passes to the stack", "[bpf]") {
    OverlayNode node;
    CHECK(verdict(node, {.dport = 53}) == kTcActOk);         // another UDP port
    CHECK(verdict(node, {.dst = 0xc0a80063}) == kTcActOk);   // 8472 on no node
    CHECK(verdict(node, {.frag_off = 0x0010}) == kTcActOk);  // not a first fragment
    Bytes tcp = udp_from_a({});
    tcp.at(14 + 9) = 6;  // TCP to 8472 (the checksum is not checked)
    CHECK(node.run_named(node.skel()->progs.from_pod, tcp).retval == kTcActOk);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_LOCAL) == 4);
    CHECK(tunnel_drops(node) == 0);
    // UDP to 8472 of a pod on node 2 is pod traffic: into the tunnel as any other.
    CHECK(verdict(node, {.dst = 0x0af40205}) == kTcActRedirect);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 1);
}

TEST_CASE("a pod's ARP claiming another pod's address is dropped as spoofed-ip", "[bpf]") {
    OverlayNode node;
    // Pod A (its own MACs) announces 10.244.1.3, pod B's address: a reply to the gateway,
    // and a gratuitous request (sender = target).
    const Bytes reply =
        hex("020000000a02 020000000102 0806"
            "0001 0800 06 04 0002 020000000102 0af40103 020000000a02 0af40101");
    const Bytes gratuitous =
        hex("ffffffffffff 020000000102 0806"
            "0001 0800 06 04 0001 020000000102 0af40103 000000000000 0af40103");
    CHECK(node.run_named(node.skel()->progs.from_pod, reply).retval == kTcActShot);
    CHECK(node.run_named(node.skel()->progs.from_pod, gratuitous).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_IP) == 2);
    CHECK(node.total_redirects() == 0);
}
