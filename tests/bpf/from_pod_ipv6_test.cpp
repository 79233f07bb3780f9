// BPF_PROG_TEST_RUN tests of from_pod and to_pod for IPv6 pods, byte-exact: NDP answered in
// the program (NS -> NA), local redirect, hop limit, anti-spoofing, the ICMPv6 the stack
// must see, Services pairs. Fixtures made by hand from RFC 4861/4443 layouts; every
// ICMPv6 checksum in them is right (checked by icmpv6_checksum_sum).
#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "bpf_fixture.h"
#include "ipv6_fixture.h"
#include "probes.skel.h"
#include "shuttle.skel.h"

namespace {

using namespace bpf_fixture;

using FromPod = Loaded<shuttle_bpf>;

// A dual-stack node: bpf_fixture.h's IPv4 pods A and B, with their IPv6 addresses.
struct DualStackNode : FromPod {
    DualStackNode() { add_ipv6_pods(*this); }
};

// An IPv6-only node (flannel's EnableIPv4 false): node_config never written, no IPv4
// endpoints; pods A and B have IPv6 entries only (what the datapath module writes for them).
struct Ipv6OnlyNode : FromPod {
    Ipv6OnlyNode() {
        clear_ipv4_endpoint(ip("10.244.1.2"));
        clear_ipv4_endpoint(ip("10.244.1.3"));
        set_config(shuttle_config{});
        add_ipv6_pods(*this);
    }
    void clear_ipv4_endpoint(uint32_t addr) {
        shuttle_endpoint empty{};
        uint32_t slot = slot_of(addr);
        REQUIRE(bpf_map_update_elem(bpf_map__fd(skel()->maps.endpoints), &slot, &empty, 0) == 0);
    }
};

// Pod A asks who has 10.244.1.1: ARP from a pod that has no IPv4 address.
const Bytes kArpFromIpv6OnlyPod =
    hex("ffffffffffff 020000000102 0806"
        "0001 0800 06 04 0001 020000000102 0af40102 000000000000 0af40101");

// Pod A (fd00:10:244:1::2) solicits its gateway fd00:10:244:1::1 (multicast, with its
// source link-layer address option), as Linux does for a packet from its global address.
const Bytes kNsForGateway =
    hex("3333ff000001 020000000102 86dd"
        "6000000000203afffd000010024400010000000000000002ff0200000000000000000001ff000001"
        "870077ed00000000fd0000100244000100000000000000010101020000000102");
// ...answered by the host veth: from the gateway to A, R|S|O, target link-layer address
// option = host veth MAC, ICMPv6 checksum 0x8b9b.
const Bytes kNaFromGateway =
    hex("020000000102 020000000a02 86dd"
        "6000000000203afffd000010024400010000000000000001fd000010024400010000000000000002"
        "88008b9be0000000fd0000100244000100000000000000010201020000000a02");
// A's unicast solicitation (reachability probe) without the option: 78 bytes.
const Bytes kNudNsForGateway =
    hex("020000000a02 020000000102 86dd"
        "6000000000183afffd000010024400010000000000000002fd000010024400010000000000000001"
        "87007aa700000000fd000010024400010000000000000001");
// A solicits pod B's address (a pod that put the prefix on-link would).
const Bytes kNsForPodB =
    hex("3333ff000003 020000000102 86dd"
        "6000000000203afffd000010024400010000000000000002ff0200000000000000000001ff000003"
        "870077e900000000fd0000100244000100000000000000030101020000000102");
const Bytes kNaForPodB =
    hex("020000000102 020000000a02 86dd"
        "6000000000203afffd000010024400010000000000000003fd000010024400010000000000000002"
        "88008b97e0000000fd0000100244000100000000000000030201020000000a02");
// A solicits fd00:10:244:7::3, a pod of another node in the cluster network.
const Bytes kNsForRemotePod =
    hex("3333ff000003 020000000102 86dd"
        "6000000000203afffd000010024400010000000000000002ff0200000000000000000001ff000003"
        "870077e300000000fd0000100244000700000000000000030101020000000102");
const Bytes kNaForRemotePod =
    hex("020000000102 020000000a02 86dd"
        "6000000000203afffd000010024400070000000000000003fd000010024400010000000000000002"
        "88008b8be0000000fd0000100244000700000000000000030201020000000a02");
// A solicits 2001:db8::1, outside the cluster.
const Bytes kNsOutsideCluster =
    hex("3333ff000001 020000000102 86dd"
        "6000000000203afffd000010024400010000000000000002ff0200000000000000000001ff000001"
        "8700498a0000000020010db80000000000000000000000010101020000000102");
// A solicits its own address.
const Bytes kNsForOwnAddress =
    hex("3333ff000002 020000000102 86dd"
        "6000000000203afffd000010024400010000000000000002ff0200000000000000000001ff000002"
        "870077eb00000000fd0000100244000100000000000000020101020000000102");
// Duplicate address detection: from ::, no option.
const Bytes kDadNs =
    hex("3333ff000002 020000000102 86dd"
        "6000000000183aff00000000000000000000000000000000ff0200000000000000000001ff000002"
        "87007b4e00000000fd000010024400010000000000000002");
// A solicits the gateway from its link-local address fe80::2 (Linux's NUD probes do).
const Bytes kNsFromLinkLocal =
    hex("3333ff000001 020000000102 86dd"
        "6000000000203afffe800000000000000000000000000002ff0200000000000000000001ff000001"
        "870078c200000000fd0000100244000100000000000000010101020000000102");
// ICMPv6 echo A -> B, hop limit 64.
const Bytes kPing6AToB =
    hex("020000000a02 020000000102 86dd"
        "60000000000c3a40fd000010024400010000000000000002fd000010024400010000000000000003"
        "8000a1bf0077000170696e67");
// ...after forwarding: MACs of B's link, hop limit 63 (no IPv6 header checksum).
const Bytes kPing6AToBForwarded =
    hex("020000000103 020000000a03 86dd"
        "60000000000c3a3ffd000010024400010000000000000002fd000010024400010000000000000003"
        "8000a1bf0077000170696e67");
// The stack delivering B's echo to A (to_pod on A's veth).
const Bytes kPing6BToA =
    hex("020000000102 020000000a02 86dd"
        "60000000000c3a40fd000010024400010000000000000003fd000010024400010000000000000002"
        "8000a1bf0077000170696e67");
// A -> 2001:db8::1, not a pod of this node.
const Bytes kPing6Outside =
    hex("020000000a02 020000000102 86dd"
        "60000000000c3a40fd00001002440001000000000000000220010db8000000000000000000000001"
        "8000735e0077000170696e67");
// An echo to B from A's link-local address.
const Bytes kPing6FromLinkLocal =
    hex("020000000a02 020000000102 86dd"
        "60000000000c3a40fe800000000000000000000000000002fd000010024400010000000000000003"
        "8000a2940077000170696e67");
// Router solicitation from fe80::2 to ff02::2.
const Bytes kRouterSolicit =
    hex("333300000002 020000000102 86dd"
        "6000000000103afffe800000000000000000000000000002ff020000000000000000000000000002"
        "8500792a000000000101020000000102");
// MLDv2 report from fe80::2 to ff02::16 behind a hop-by-hop router alert.
const Bytes kMld2Report =
    hex("333300000016 020000000102 86dd"
        "6000000000240001fe800000000000000000000000000002ff020000000000000000000000000016"
        "3a000502000001008f0071050000000104000000ff0200000000000000000001ff000002");
// ICMPv6 destination unreachable (port) A -> B.
const Bytes kUnreachableAToB =
    hex("020000000a02 020000000102 86dd"
        "6000000000303a40fd000010024400010000000000000002fd000010024400010000000000000003"
        "0104ffe00000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000");
// A -> pod C at fd00:10:244:1::1:5: outside the first 65,536 addresses, in the hash.
const Bytes kPing6AToC =
    hex("020000000a02 020000000102 86dd"
        "60000000000c3a40fd000010024400010000000000000002fd000010024400010000000000010005"
        "8000a1bc0077000170696e67");
const Bytes kPing6AToCForwarded =
    hex("020000000105 020000000a05 86dd"
        "60000000000c3a3ffd000010024400010000000000000002fd000010024400010000000000010005"
        "8000a1bc0077000170696e67");

}  // namespace

TEST_CASE("IPv6 fixtures carry right ICMPv6 checksums", "[bpf]") {
    for (const Bytes* frame : {&kNsForGateway, &kNaFromGateway, &kNudNsForGateway, &kNaForPodB,
                               &kDadNs, &kPing6AToB, &kRouterSolicit, &kUnreachableAToB}) {
        CHECK(icmpv6_checksum_sum(*frame) == 0xffff);
    }
}

TEST_CASE("IPv6: NS for the gateway gets the exact NA, back out of the veth", "[bpf]") {
    DualStackNode node;
    RunResult r = node.run(kNsForGateway);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kNaFromGateway);
    CHECK(icmpv6_checksum_sum(r.out) == 0xffff);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_NA_REPLY) == 1);
}

TEST_CASE("IPv6: a unicast NS without option grows into the same NA", "[bpf]") {
    DualStackNode node;
    RunResult r = node.run(kNudNsForGateway);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kNaFromGateway);
}

TEST_CASE("IPv6: NS for another pod or a remote cluster address is answered by the host", "[bpf]") {
    DualStackNode node;
    RunResult local = node.run(kNsForPodB);
    CHECK(local.retval == kTcActRedirect);
    CHECK(local.out == kNaForPodB);
    CHECK(icmpv6_checksum_sum(local.out) == 0xffff);
    RunResult remote = node.run(kNsForRemotePod);
    CHECK(remote.retval == kTcActRedirect);
    CHECK(remote.out == kNaForRemotePod);
    CHECK(icmpv6_checksum_sum(remote.out) == 0xffff);
}

TEST_CASE("IPv6: NS the host does not answer passes to the stack unchanged", "[bpf]") {
    DualStackNode node;
    for (const Bytes* frame : {&kNsOutsideCluster, &kNsForOwnAddress, &kDadNs, &kNsFromLinkLocal}) {
        RunResult r = node.run(*frame);
        CHECK(r.retval == kTcActOk);
        CHECK(r.out == *frame);
    }
    Bytes off_link = with_byte(kNsForGateway, 14 + 7, 254);  // hop limit 254: not from the link
    CHECK(node.run(off_link).retval == kTcActOk);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NDP_OTHER) == 5);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("IPv6: DAD probe (from ::) passes to the stack", "[bpf]") {
    DualStackNode node;
    RunResult r = node.run(kDadNs);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kDadNs);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NDP_OTHER) == 1);
}

TEST_CASE("IPv6 to a local pod is redirected with B's MACs and hop limit - 1", "[bpf]") {
    DualStackNode node;
    RunResult r = node.run(kPing6AToB);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPing6AToBForwarded);
    CHECK(icmpv6_checksum_sum(r.out) == 0xffff);  // the hop limit is in no checksum
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_LOCAL) == 1);
}

TEST_CASE("IPv6 to a pod kept in the hash (outside the slots) is redirected", "[bpf]") {
    DualStackNode node;
    add_endpoint6(node, "fd00:10:244:1::1:5", 43, "020000000105", "020000000a05");
    RunResult r = node.run(kPing6AToC);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPing6AToCForwarded);
}

TEST_CASE("IPv6 hop limit 1 (and 0) towards a local pod is dropped and counted", "[bpf]") {
    DualStackNode node;
    CHECK(node.run(with_byte(kPing6AToB, 14 + 7, 1)).retval == kTcActShot);
    CHECK(node.run(with_byte(kPing6AToB, 14 + 7, 0)).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_TTL_EXPIRED) == 2);
    CHECK(node.run(with_byte(kPing6AToB, 14 + 7, 2)).retval == kTcActRedirect);
}

TEST_CASE("IPv6 with a spoofed source address or MAC is dropped and counted", "[bpf]") {
    DualStackNode node;
    Bytes not_held = with_byte(kPing6AToB, 14 + 8 + 15, 0x09);  // from fd00:10:244:1::9
    CHECK(node.run(not_held).retval == kTcActShot);
    Bytes pod_b = with_byte(kPing6AToB, 14 + 8 + 15, 0x03);  // B's address from A's veth
    CHECK(node.run(pod_b).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_IP) == 2);
    Bytes wrong_mac = with_byte(kPing6AToB, 11, 0x09);
    CHECK(node.run(wrong_mac).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_MAC) == 1);
    Bytes ns_not_held = with_byte(kNsForGateway, 14 + 8 + 15, 0x09);  // NS from ::9
    CHECK(node.run(ns_not_held).retval == kTcActShot);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("an IPv6 drop is reported with its IPv6 addresses, next header and hop limit", "[bpf]") {
    DualStackNode node;
    std::vector<shuttle_event> seen;
    auto on_event = [](void* ctx, void* data, size_t size) -> int {
        if (size >= sizeof(shuttle_event)) {  // this build's records carry the IPv6 fields
            static_cast<std::vector<shuttle_event>*>(ctx)->push_back(
                *static_cast<shuttle_event*>(data));
        }
        return 0;
    };
    ring_buffer* rb =
        ring_buffer__new(bpf_map__fd(node.skel()->maps.events), on_event, &seen, nullptr);
    REQUIRE(rb);
    // from fd00:10:244:1::9 (not A's address), hop limit 64
    CHECK(node.run(with_byte(kPing6AToB, 14 + 8 + 15, 0x09)).retval == kTcActShot);
    CHECK(node.run(with_byte(kPing6AToB, 14 + 7, 1)).retval == kTcActShot);  // hop limit 1
    ring_buffer__consume(rb);
    ring_buffer__free(rb);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].stat_key == SHUTTLE_STAT_KEY(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_IP));
    CHECK(seen[0].eth_proto == htons(0x86dd));
    CHECK(std::memcmp(seen[0].saddr6, ip6("fd00:10:244:1::9").addr, 16) == 0);
    CHECK(std::memcmp(seen[0].daddr6, ip6("fd00:10:244:1::3").addr, 16) == 0);
    CHECK(seen[0].ip_proto == 58);  // ICMPv6
    CHECK(seen[0].ttl == 64);
    CHECK(seen[0].saddr == 0);  // the IPv4 fields stay empty
    CHECK(seen[0].daddr == 0);
    CHECK(seen[1].stat_key == SHUTTLE_STAT_KEY(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_TTL_EXPIRED));
    CHECK(std::memcmp(seen[1].saddr6, ip6("fd00:10:244:1::2").addr, 16) == 0);
    CHECK(seen[1].ttl == 1);
}

TEST_CASE("IPv6 link-local sources: NDP and MLD pass, anything else is dropped", "[bpf]") {
    DualStackNode node;
    RunResult rs = node.run(kRouterSolicit);
    CHECK(rs.retval == kTcActOk);
    CHECK(rs.out == kRouterSolicit);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NDP_OTHER) == 1);
    RunResult mld = node.run(kMld2Report);
    CHECK(mld.retval == kTcActOk);
    CHECK(mld.out == kMld2Report);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_ICMPV6_STACK) == 1);
    CHECK(node.run(kPing6FromLinkLocal).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_IP) == 1);
}

TEST_CASE("IPv6: ICMPv6 errors between pods go to the stack", "[bpf]") {
    DualStackNode node;
    RunResult r = node.run(kUnreachableAToB);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kUnreachableAToB);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_ICMPV6_STACK) == 1);
}

TEST_CASE("IPv6 to a non-local address passes to the stack", "[bpf]") {
    DualStackNode node;
    RunResult r = node.run(kPing6Outside);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kPing6Outside);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_LOCAL) == 1);
}

TEST_CASE("IPv6 without node_config6 passes unchecked, as before the IPv6 datapath", "[bpf]") {
    FromPod node;  // IPv4 config only
    const Bytes spoofed = with_byte(kPing6AToB, 14 + 8 + 15, 0x09);
    for (const Bytes* frame : {&kPing6AToB, &spoofed, &kNsForGateway}) {
        RunResult r = node.run(*frame);
        CHECK(r.retval == kTcActOk);
        CHECK(r.out == *frame);
    }
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NON_IP) == 3);
}

TEST_CASE("IPv6-only pods: NS answered, local redirect and sender checks without IPv4", "[bpf]") {
    Ipv6OnlyNode node;
    RunResult na = node.run(kNsForGateway);
    CHECK(na.retval == kTcActRedirect);
    CHECK(na.out == kNaFromGateway);
    RunResult ping = node.run(kPing6AToB);
    CHECK(ping.retval == kTcActRedirect);
    CHECK(ping.out == kPing6AToBForwarded);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_NA_REPLY) == 1);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_LOCAL) == 1);
    CHECK(node.run(with_byte(kPing6AToB, 14 + 8 + 15, 0x09)).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_IP) == 1);
    CHECK(node.run(with_byte(kPing6AToB, 11, 0x09)).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_MAC) == 1);
}

TEST_CASE("IPv4 and ARP from an IPv6-only pod are dropped, never passed", "[bpf]") {
    SECTION("on an IPv6-only node (no node_config): no-config") {
        Ipv6OnlyNode node;
        CHECK(node.run(kPingAToB).retval == kTcActShot);
        CHECK(node.run(kArpFromIpv6OnlyPod).retval == kTcActShot);
        CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_NO_CONFIG) == 2);
    }
    SECTION("on a dual-stack node (the pod has no IPv4 slot): spoofed-ip") {
        Ipv6OnlyNode node;
        shuttle_config cfg{};
        cfg.layout_version = SHUTTLE_LAYOUT_VERSION;
        cfg.node_subnet = ip("10.244.0.0");
        cfg.node_subnet_len = 16;
        cfg.gateway = ip("10.244.1.1");
        cfg.cluster_network = ip("10.244.0.0");
        cfg.cluster_len = 16;
        node.set_config(cfg);
        CHECK(node.run(kPingAToB).retval == kTcActShot);
        CHECK(node.run(kArpFromIpv6OnlyPod).retval == kTcActShot);
        CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_IP) == 2);
    }
}

TEST_CASE("IPv6 header of another version is malformed", "[bpf]") {
    DualStackNode node;
    CHECK(node.run(with_byte(kPing6AToB, 14, 0x40)).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_MALFORMED) == 1);
}

TEST_CASE("to_pod remembers IPv6 pairs the stack delivers, their replies take the stack path",
          "[bpf]") {
    DualStackNode node;
    int to_pod = bpf_program__fd(node.skel()->progs.to_pod);
    RunResult delivered = node.run_prog(to_pod, kPing6BToA);
    CHECK(delivered.retval == kTcActOk);
    CHECK(delivered.out == kPing6BToA);
    shuttle_nat_pair6 key{};
    std::memcpy(key.pod, ip6("fd00:10:244:1::2").addr, 16);
    std::memcpy(key.peer, ip6("fd00:10:244:1::3").addr, 16);
    shuttle_nat_seen seen{};
    CHECK(bpf_map_lookup_elem(bpf_map__fd(node.skel()->maps.nat_pairs6), &key, &seen) == 0);

    RunResult reply = node.run(kPing6AToB);
    CHECK(reply.retval == kTcActOk);
    CHECK(reply.out == kPing6AToB);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NAT_FLOW) == 1);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("to_pod keeps no IPv6 pair for NDP or the gateway (the NAs from_pod sends)", "[bpf]") {
    DualStackNode node;
    int to_pod = bpf_program__fd(node.skel()->progs.to_pod);
    CHECK(node.run_prog(to_pod, kNaForPodB).retval == kTcActOk);
    CHECK(node.run_prog(to_pod, kNaFromGateway).retval == kTcActOk);
    RunResult r = node.run(kPing6AToB);
    CHECK(r.retval == kTcActRedirect);
}

// Not a pass/fail test: prints the IPv6 paths' cost per packet (shuttle_bpf_tests "[bench]").
// As the IPv4 bench: every repetition restores the packet, the restore is subtracted.
TEST_CASE("ns per packet for the IPv6 paths at 10 and 10,000 endpoints", "[.][bench]") {
    constexpr int kRepeat = 1'000'000;
    struct Path {
        const char* name;
        const Bytes* packet;
        int expected;
    } paths[] = {{"IPv6 local redirect", &kPing6AToB, kTcActRedirect},
                 {"IPv6 local redirect, hash entry", &kPing6AToC, kTcActRedirect},
                 {"NS -> NA", &kNsForGateway, kTcActRedirect},
                 {"IPv6 pass to stack", &kPing6Outside, kTcActOk}};
    std::printf("| path | endpoints | ns/packet | ns incl. restore |\n|---|---|---|---|\n");
    for (int endpoints : {10, 10'000}) {
        Loaded<probes_bpf> prog;
        add_ipv6_pods(prog);
        add_endpoint6(prog, "fd00:10:244:1::1:5", 43, "020000000105", "020000000a05");
        for (int i = 0; i < endpoints - 3; ++i) {
            char text[64];  // half in the slots (::1:0 + i), half in the hash (::2:0:i)
            if (i % 2)
                std::snprintf(text, sizeof text, "fd00:10:244:1::%x", 0x100 + i);
            else
                std::snprintf(text, sizeof text, "fd00:10:244:1::2:0:%x", i);
            add_endpoint6(prog, text, 100 + i, kPodBMac, kHostBMac);
        }
        for (const Path& path : paths) {
            PacketCost cost = from_pod_cost(prog, *path.packet, path.expected, kRepeat);
            std::printf("| %s | %d | %d | %u |\n", path.name, endpoints, cost.ns, cost.total_ns);
        }
    }
}
