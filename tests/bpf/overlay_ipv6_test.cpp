// BPF_PROG_TEST_RUN tests of the IPv6 overlay's device path, byte-exact: from_pod's IPv6
// encapsulation for a pod of another node (routes6: inner MACs, hop limit, the IPv6 tunnel
// key with the outer UDP checksum asked for), its fallback to the stack without an entry,
// and from_overlay's delivery of decapsulated IPv6 into a local pod. Tunnel metadata is read
// back (or given) by the probes of tests/bpf/probes.bpf.c. Direct mode (lib/vxlan6.h): the
// outer IPv6/UDP/VXLAN headers pushed by from_pod, the outer UDP checksum verified here by an
// independent sum over the whole datagram, and the packets it leaves to the device.
#include <sched.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "bpf_fixture.h"
#include "ipv6_fixture.h"
#include "overlay_fixture.h"
#include "shell_commands.h"

using namespace bpf_fixture;

namespace {

// Node 2's IPv6 half: fd00:10:244:2::/64 behind fd77::12 (the probes' IPv6 outer source),
// IPv6 VtepMAC 0e:00:00:00:06:00; ours fd77::11.
const char* const kNode2Vtep6 = "0e0000000600";
const char* const kNode2Public6 = "fd77::12";
const char* const kOurPublic6 = "fd77::11";

// ICMPv6 echo fd00:10:244:1::2 (pod A) -> fd00:10:244:2::5 (a pod of node 2), hop limit 64.
const Bytes kPing6AToRemote =
    hex("020000000a02 020000000102 86dd"
        "60000000000c3a40fd000010024400010000000000000002fd000010024400020000000000000005"
        "8000a1bc0077000170696e67");
// ...after from_pod: from our VTEP to node 2's IPv6 VtepMAC, hop limit 63.
const Bytes kPing6AToRemoteEncapsulated =
    hex("0e0000000600 0e0000000100 86dd"
        "60000000000c3a3ffd000010024400010000000000000002fd000010024400020000000000000005"
        "8000a1bc0077000170696e67");
// Decapsulated by our device: fd00:10:244:2::5 -> pod B, hop limit 63.
const Bytes kPing6RemoteToB =
    hex("0e0000000100 0e0000000600 86dd"
        "60000000000c3a3ffd000010024400020000000000000005fd000010024400010000000000000003"
        "8000a1bb0077000170696e67");
// ...delivered into pod B: B's link MACs, hop limit 62.
const Bytes kPing6RemoteToBDelivered =
    hex("020000000103 020000000a03 86dd"
        "60000000000c3a3efd000010024400020000000000000005fd000010024400010000000000000003"
        "8000a1bb0077000170696e67");

constexpr uint16_t kTunnelCsum = 0x0001;  // TUNNEL_CSUM in bpf_tunnel_key.tunnel_flags (be16)

// The VXLAN device is the loopback here (ifindex 1 in every namespace): bpf_check_mtu needs a
// device, and its MTU (65,536) fits every test packet. Direct mode: the underlay interface is
// the loopback too.
inline shuttle_config config_with_device_lo(bool direct = false) {
    shuttle_config cfg = overlay_config();
    cfg.vxlan_ifindex = 1;
    if (direct) {
        cfg.flags |= SHUTTLE_CONFIG_F_DIRECT_OVERLAY;
        cfg.underlay_ifindex = kSenderIfindex;
    }
    return cfg;
}

// The overlay test node with IPv6 pods A and B, node 2's lease in routes6 and peers6 as the
// agent writes them.
struct Overlay6Node : OverlayNode {
    explicit Overlay6Node(uint32_t subnet_len = 64, bool direct = false)
        : OverlayNode(config_with_device_lo(direct)) {
        set_config6(*this, "fd00:10:244:1::", subnet_len);
        add_endpoint6(*this, "fd00:10:244:1::2", kSenderIfindex, kPodAMac, kHostAMac);
        add_endpoint6(*this, "fd00:10:244:1::3", kPeerIfindex, kPodBMac, kHostBMac);
        add_route6("fd00:10:244:2::", subnet_len, kNode2Public6, kNode2Vtep6);
        // from_overlay's IPv6 tunnel check (peers6), as shuttled writes it.
        shuttle_ip6 node2 = ip6(kNode2Public6);
        shuttle_peer6 peer{};
        std::memcpy(peer.subnet, ip6("fd00:10:244:2::").addr, 16);
        peer.subnet_len = 64;
        REQUIRE(bpf_map_update_elem(bpf_map__fd(skel()->maps.peers6), &node2, &peer, 0) == 0);
        shuttle_config cfg = config_with_device_lo(direct);
        cfg.flags |= SHUTTLE_CONFIG_F_IPV6_PEERS;
        set_config(cfg);
    }

    void add_route6(const char* subnet, uint32_t len, const char* underlay, const char* vtep,
                    uint32_t vni = 1) {
        shuttle_route6_key key{};
        std::memcpy(key.subnet, ip6(subnet).addr, 8);
        key.prefix_len = len;
        shuttle_route6 value{};
        std::memcpy(value.underlay_ip6, ip6(underlay).addr, 16);
        std::memcpy(value.local_ip6, ip6(kOurPublic6).addr, 16);
        set_mac(value.vtep_mac, vtep);
        value.vni = vni;
        REQUIRE(bpf_map_update_elem(bpf_map__fd(skel()->maps.routes6), &key, &value, 0) == 0);
    }

    void clear_routes6() {
        shuttle_route6_key key{};
        std::memcpy(key.subnet, ip6("fd00:10:244:2::").addr, 8);
        key.prefix_len = 64;
        REQUIRE(bpf_map_delete_elem(bpf_map__fd(skel()->maps.routes6), &key) == 0);
    }

    // The last from_pod_then_read_key6's key; as the IPv4 probe, the receiver's view:
    // "local" is the outer destination set, "remote" the outer source.
    const bpf_tunnel_key& key6() {
        REQUIRE(skel()->data->probe_key6_rc == 0);
        return skel()->bss->probe_key6;
    }
};

bool same_ip6(const uint32_t* words, const char* text) {
    return std::memcmp(words, ip6(text).addr, 16) == 0;
}

}  // namespace

TEST_CASE("from_pod encapsulates IPv6 for a remote pod: MACs, hop limit-1, IPv6 tunnel key",
          "[bpf]") {
    Overlay6Node node;
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key6, kPing6AToRemote);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPing6AToRemoteEncapsulated);
    const bpf_tunnel_key& key = node.key6();
    CHECK(same_ip6(key.local_ipv6, kNode2Public6));  // the outer destination
    CHECK(same_ip6(key.remote_ipv6, kOurPublic6));   // the outer source
    CHECK(key.tunnel_id == 1);
    CHECK(key.tunnel_ttl == 64);
    // The outer UDP checksum flannel's IPv6 device requires: no BPF_F_ZERO_CSUM_TX.
    CHECK((ntohs(key.tunnel_flags) & kTunnelCsum) != 0);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 1);

    // The attached program takes the same decision.
    RunResult attached = node.run_named(node.skel()->progs.from_pod, kPing6AToRemote);
    CHECK(attached.retval == kTcActRedirect);
    CHECK(attached.out == kPing6AToRemoteEncapsulated);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 2);
}

TEST_CASE("from_pod uses the IPv6 route's VNI", "[bpf]") {
    Overlay6Node node;
    node.add_route6("fd00:10:244:2::", 64, "2001:db8:ffff::63", "0e0000000663", 7);
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key6, kPing6AToRemote);
    CHECK(r.retval == kTcActRedirect);
    CHECK(Bytes(r.out.begin(), r.out.begin() + 6) == hex("0e0000000663"));
    CHECK(same_ip6(node.key6().local_ipv6, "2001:db8:ffff::63"));
    CHECK(node.key6().tunnel_id == 7);
}

TEST_CASE("IPv6 to a remote pod without a routes6 entry passes to the stack unchanged", "[bpf]") {
    Overlay6Node node;
    node.clear_routes6();
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key6, kPing6AToRemote);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kPing6AToRemote);
    CHECK(node.skel()->data->probe_key6_rc != 0);  // no tunnel key set
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_LOCAL) == 1);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("IPv6 subnets longer than /64 take the stack, not routes6", "[bpf]") {
    Overlay6Node node(80);  // an entry the agent would not write, keyed as if it did
    RunResult r = node.run_named(node.skel()->progs.from_pod, kPing6AToRemote);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kPing6AToRemote);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("IPv6 GSO to a remote pod that is not TCP or UDP takes the stack, unchanged", "[bpf]") {
    Overlay6Node node;
    RunResult r = node.run_named(node.skel()->progs.from_pod, kPing6AToRemote, 1000);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kPing6AToRemote);  // the stack answers what does not fit
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_LOCAL) == 1);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("IPv6 hop limit 1 towards a remote pod is dropped and counted", "[bpf]") {
    Overlay6Node node;
    Bytes in = with_byte(kPing6AToRemote, 14 + 7, 1);
    CHECK(node.run_named(node.skel()->progs.from_pod, in).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_TTL_EXPIRED) == 1);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("without a VXLAN device in node_config IPv6 to a remote pod takes the stack", "[bpf]") {
    shuttle_config cfg = overlay_config();
    cfg.vxlan_ifindex = 0;
    OverlayNode base(cfg);
    set_config6(base);
    add_endpoint6(base, "fd00:10:244:1::2", kSenderIfindex, kPodAMac, kHostAMac);
    RunResult r = base.run_named(base.skel()->progs.from_pod, kPing6AToRemote);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kPing6AToRemote);
}

TEST_CASE("from_overlay delivers a checked IPv6 tunnel packet into the local pod", "[bpf]") {
    Overlay6Node node;
    RunResult r = node.run_named(node.skel()->progs.from_overlay_with_key6, kPing6RemoteToB);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPing6RemoteToBDelivered);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP) == 1);
}

TEST_CASE("from_overlay leaves checked IPv6 not for a local pod to the stack", "[bpf]") {
    Overlay6Node node;
    Bytes to_nobody = kPing6RemoteToB;
    to_nobody[14 + 24 + 15] = 0x77;  // fd00:10:244:1::77: no pod
    RunResult r = node.run_named(node.skel()->progs.from_overlay_with_key6, to_nobody);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == to_nobody);
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_LOCAL) == 1);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("from_overlay drops a forged IPv6 tunnel packet before any delivery", "[bpf]") {
    Overlay6Node node;
    node.skel()->bss->probe_vni = 2;
    CHECK(node.run_named(node.skel()->progs.from_overlay_with_key6, kPing6RemoteToB).retval ==
          kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_WRONG_VNI) == 1);
    CHECK(node.total_redirects() == 0);
}

// An IPv6-only node (flannel's EnableIPv4 false): shuttled writes node_config's overlay fields
// only (device, VNI, VtepMAC, the IPv6 check's flag), no IPv4 subnet, cluster network,
// gateway or underlay address. The IPv6 paths work as on dual-stack; the IPv4 ones find no
// pod and no route.
TEST_CASE("IPv6-only node_config: from_overlay checks and delivers IPv6, IPv4 finds nothing",
          "[bpf]") {
    Overlay6Node node;
    shuttle_config cfg{};
    cfg.layout_version = SHUTTLE_LAYOUT_VERSION;
    cfg.vxlan_ifindex = 1;
    cfg.vni = 1;
    set_mac(cfg.vtep_mac, kOurVtep);
    cfg.flags = SHUTTLE_CONFIG_F_IPV6_PEERS;
    node.set_config(cfg);
    uint32_t node2_ipv4 = htonl(kNode2Underlay);  // no IPv4 peers there (no set_routes)
    REQUIRE(bpf_map_delete_elem(bpf_map__fd(node.skel()->maps.underlay_nodes), &node2_ipv4) == 0);
    auto& from_overlay6 = node.skel()->progs.from_overlay_with_key6;

    RunResult delivered = node.run_named(from_overlay6, kPing6RemoteToB);
    CHECK(delivered.retval == kTcActRedirect);
    CHECK(delivered.out == kPing6RemoteToBDelivered);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP) == 1);

    Bytes forged = kPing6RemoteToB;
    forged[14 + 8 + 7] = 0x01;  // inner source fd00:10:244:1::5: our subnet, not node 2's
    CHECK(node.run_named(from_overlay6, forged).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_FORGED_INNER_SRC) == 1);
    node.skel()->data->probe_outer_src6[3] = htonl(0x99);  // fd77::99: no node
    CHECK(node.run_named(from_overlay6, kPing6RemoteToB).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_UNKNOWN_NODE) == 1);
    node.skel()->data->probe_outer_src6[3] = htonl(0x12);
    node.skel()->bss->probe_vni = 2;
    CHECK(node.run_named(from_overlay6, kPing6RemoteToB).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_WRONG_VNI) == 1);
    node.skel()->bss->probe_vni = 1;
    CHECK(node.total_redirects() == 1);

    // from_pod's IPv6 device path (routes6) as on dual-stack.
    RunResult out = node.run_named(node.skel()->progs.from_pod, kPing6AToRemote);
    CHECK(out.retval == kTcActRedirect);
    CHECK(out.out == kPing6AToRemoteEncapsulated);

    // IPv4: no node subnet (no pod, no route), no peer in the routes map.
    CHECK(node.run_named(node.skel()->progs.from_overlay_with_vni, kPingRemoteToB).retval ==
          kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_UNKNOWN_NODE) == 2);
    CHECK(node.run_named(node.skel()->progs.to_overlay, kHostToRemote).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_NO_ROUTE) == 1);
    CHECK(node.run_named(node.skel()->progs.from_pod, kPingAToRemote).retval == kTcActShot);
    CHECK(node.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_IP) == 1);
    CHECK(node.total_redirects() == 2);
}

namespace {

// ---- direct mode ----------------------------------------------------------------------------
constexpr size_t kOuterUdp6 = 14 + 40;
constexpr size_t kInnerIp6Off = 14 + 70;

Bytes with_bytes16(Bytes b, size_t offset, uint16_t value) {
    b.at(offset) = static_cast<uint8_t>(value >> 8);
    b.at(offset + 1) = static_cast<uint8_t>(value & 0xff);
    return b;
}

// TCP SYN fd00:10:244:1::2:54321 -> fd00:10:244:2::5:443 from pod A, traffic class 0x02
// (ECT(0)), flow label 0xabcd, hop limit 64, a complete checksum.
const Bytes kTcp6AToRemote =
    hex("020000000a02 020000000102 86dd"
        "6020abcd 0014 06 40 fd000010024400010000000000000002 fd000010024400020000000000000005"
        "d43101bb000003e80000000050027210654a0000");
// ...encapsulated: the pod's Ethernet header kept in front (bpf_redirect_neigh rewrites it),
// outer IPv6 fd77::11 -> fd77::12 with the inner ECN bits and no flow label, payload 90, UDP,
// hop limit 64; UDP to 8472 (length 90); VXLAN VNI 1; inner Ethernet our VTEP -> node 2's
// IPv6 VtepMAC; inner hop limit 63. The UDP source port and checksum vary with the flow hash:
// zeroed here, checked apart.
const Bytes kTcp6AToRemoteEncapsulated =
    hex("020000000a02 020000000102 86dd"
        "60200000 005a 11 40 fd770000000000000000000000000011 fd770000000000000000000000000012"
        "0000 2118 005a 0000"
        "08000000 00000100"
        "0e0000000600 0e0000000100 86dd"
        "6020abcd 0014 06 3f fd000010024400010000000000000002 fd000010024400020000000000000005"
        "d43101bb000003e80000000050027210654a0000");
// The same SYN as a pod's kernel hands it over with checksum offload (CHECKSUM_PARTIAL): the
// TCP checksum field holds the pseudo-header sum, the NIC (or skb_checksum_help) fills it in.
const Bytes kTcp6AToRemotePartial = with_bytes16(kTcp6AToRemote, 14 + 40 + 16, 0xfecd);
// UDP fd00:10:244:1::2:54321 -> fd00:10:244:2::5:53, traffic class 0x03 (CE): outside ECT(0).
const Bytes kUdp6AToRemote =
    hex("020000000a02 020000000102 86dd"
        "60300000 0010 11 40 fd000010024400010000000000000002 fd000010024400020000000000000005"
        "d43100350010c79f68656c6c6f212121");
const Bytes kUdp6AToRemoteEncapsulated =
    hex("020000000a02 020000000102 86dd"
        "60200000 0056 11 40 fd770000000000000000000000000011 fd770000000000000000000000000012"
        "0000 2118 0056 0000"
        "08000000 00000100"
        "0e0000000600 0e0000000100 86dd"
        "60300000 0010 11 3f fd000010024400010000000000000002 fd000010024400020000000000000005"
        "d43100350010c79f68656c6c6f212121");

// RFC 1071's sum, byte by byte, folded (not complemented).
uint32_t ones_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i < n; i += 2) {
        sum += (uint32_t{p[i]} << 8) | (i + 1 < n ? p[i + 1] : 0);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

// The checksum sum of the upper-layer message after the IPv6 header at `ip` (no extension
// headers), pseudo-header included: 0xffff when the message's checksum is right.
uint16_t ipv6_upper_sum(const Bytes& frame, size_t ip) {
    REQUIRE(frame.size() >= ip + 40);
    size_t length = (size_t{frame[ip + 4]} << 8) | frame[ip + 5];
    REQUIRE(frame.size() == ip + 40 + length);
    uint32_t sum = ones_sum(&frame[ip + 8], 32);
    sum = ones_sum(nullptr, 0, sum + static_cast<uint32_t>(length) + frame[ip + 6]);
    return static_cast<uint16_t>(ones_sum(&frame[ip + 40], length, sum));
}

// What the NIC does for CHECKSUM_PARTIAL: the message from csum_start, the stored
// pseudo-header sum included, folded and complemented into the field.
Bytes fill_partial_checksum(Bytes frame, size_t start, size_t field) {
    uint16_t sum = static_cast<uint16_t>(ones_sum(&frame[start], frame.size() - start));
    return with_bytes16(std::move(frame), field, static_cast<uint16_t>(~sum));
}

Bytes without_port_and_checksum(Bytes frame) {
    for (size_t offset : {kOuterUdp6, kOuterUdp6 + 1, kOuterUdp6 + 6, kOuterUdp6 + 7}) {
        frame.at(offset) = 0;
    }
    return frame;
}

void check_direct6(Overlay6Node& node, const Bytes& in, const RunResult& r, const Bytes& expected) {
    CHECK(r.retval == kTcActRedirect);
    REQUIRE(r.out.size() == expected.size());
    CHECK(without_port_and_checksum(r.out) == expected);
    uint16_t port = static_cast<uint16_t>(r.out[kOuterUdp6] << 8 | r.out[kOuterUdp6 + 1]);
    CHECK(port == expected_source_port(flow_hash_of(node, in)));
    CHECK((r.out[kOuterUdp6 + 6] | r.out[kOuterUdp6 + 7]) != 0);  // a checksum, never "none"
    CHECK(ipv6_upper_sum(r.out, 14) == 0xffff);                   // the outer UDP checksum
}

}  // namespace

TEST_CASE("direct mode: from_pod encapsulates IPv6 TCP itself, outer UDP checksum right", "[bpf]") {
    Overlay6Node node(64, true);
    RunResult r = node.run_named(node.skel()->progs.from_pod_then_read_key6, kTcp6AToRemote);
    check_direct6(node, kTcp6AToRemote, r, kTcp6AToRemoteEncapsulated);
    CHECK(ipv6_upper_sum(r.out, kInnerIp6Off) == 0xffff);  // the inner TCP checksum untouched
    CHECK(node.skel()->data->probe_key6_rc != 0);          // no tunnel metadata: no device
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ENCAP_DIRECT) == 1);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 0);
}

TEST_CASE("direct mode: IPv6 TCP with checksum offload (pseudo-header sum in the field)", "[bpf]") {
    // The program cannot tell a complete checksum from an offloaded one and need not: the
    // outer checksum comes out right once the inner one is filled in, as on the wire.
    Overlay6Node node(64, true);
    RunResult r = node.run_named(node.skel()->progs.from_pod, kTcp6AToRemotePartial);
    CHECK(r.retval == kTcActRedirect);
    CHECK(without_port_and_checksum(r.out) ==
          with_bytes16(kTcp6AToRemoteEncapsulated, kInnerIp6Off + 40 + 16, 0xfecd));
    Bytes wire = fill_partial_checksum(r.out, kInnerIp6Off + 40, kInnerIp6Off + 40 + 16);
    CHECK(ipv6_upper_sum(wire, kInnerIp6Off) == 0xffff);
    CHECK(wire == with_bytes16(r.out, kInnerIp6Off + 40 + 16, 0x654a));  // the complete one
    CHECK(ipv6_upper_sum(wire, 14) == 0xffff);
    // The same outer checksum as for the complete packet of the same flow.
    RunResult complete = node.run_named(node.skel()->progs.from_pod, kTcp6AToRemote);
    CHECK(complete.out == wire);
}

TEST_CASE("direct mode: IPv6 UDP (CE becomes ECT(0) outside) and ICMPv6 echo", "[bpf]") {
    Overlay6Node node(64, true);
    RunResult r = node.run_named(node.skel()->progs.from_pod, kUdp6AToRemote);
    check_direct6(node, kUdp6AToRemote, r, kUdp6AToRemoteEncapsulated);
    CHECK(ipv6_upper_sum(r.out, kInnerIp6Off) == 0xffff);

    RunResult ping = node.run_named(node.skel()->progs.from_pod, kPing6AToRemote);
    REQUIRE(ping.retval == kTcActRedirect);
    REQUIRE(ping.out.size() == kPing6AToRemote.size() + 70);
    CHECK(Bytes(ping.out.begin() + 14, ping.out.begin() + 18) == hex("60000000"));
    CHECK(Bytes(ping.out.begin() + kInnerIp6Off, ping.out.end()) ==
          Bytes(kPing6AToRemoteEncapsulated.begin() + 14, kPing6AToRemoteEncapsulated.end()));
    CHECK(ipv6_upper_sum(ping.out, 14) == 0xffff);
    CHECK(ipv6_upper_sum(ping.out, kInnerIp6Off) == 0xffff);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ENCAP_DIRECT) == 2);
}

TEST_CASE("direct mode: the IPv6 route's VNI, node and VXLAN port", "[bpf]") {
    shuttle_config cfg = config_with_device_lo(true);
    cfg.vxlan_port = htons(4789);
    Overlay6Node node(64, true);
    cfg.flags |= SHUTTLE_CONFIG_F_IPV6_PEERS;
    node.set_config(cfg);
    node.add_route6("fd00:10:244:2::", 64, "2001:db8:ffff::63", "0e0000000663", 7);
    RunResult r = node.run_named(node.skel()->progs.from_pod, kUdp6AToRemote);
    REQUIRE(r.retval == kTcActRedirect);
    shuttle_ip6 peer = ip6("2001:db8:ffff::63");
    CHECK(Bytes(r.out.begin() + 38, r.out.begin() + 54) == Bytes(peer.addr, peer.addr + 16));
    CHECK(Bytes(r.out.begin() + 56, r.out.begin() + 58) == hex("12b5"));  // 4789
    CHECK(Bytes(r.out.begin() + 62, r.out.begin() + 70) == hex("0800000000000700"));
    CHECK(Bytes(r.out.begin() + 70, r.out.begin() + 76) == hex("0e0000000663"));
    CHECK(ipv6_upper_sum(r.out, 14) == 0xffff);
}

TEST_CASE("direct mode: IPv6 the program cannot checksum takes the device path", "[bpf]") {
    Overlay6Node node(64, true);
    // GSO: the segments' outer checksums are the device's (SKB_GSO_UDP_TUNNEL_CSUM).
    RunResult gso =
        node.run_named(node.skel()->progs.from_pod_then_read_key6, kTcp6AToRemote, 1000);
    CHECK(gso.retval == kTcActRedirect);
    CHECK(gso.out.size() == kTcp6AToRemote.size());  // not grown
    CHECK(same_ip6(node.key6().local_ipv6, kNode2Public6));
    CHECK((ntohs(node.key6().tunnel_flags) & kTunnelCsum) != 0);
    // UDP without a checksum: the inner message does not sum to its pseudo-header.
    Bytes no_csum = with_bytes16(kUdp6AToRemote, 14 + 40 + 6, 0);
    RunResult udp0 = node.run_named(node.skel()->progs.from_pod, no_csum);
    CHECK(udp0.retval == kTcActRedirect);
    CHECK(udp0.out.size() == no_csum.size());
    // Bytes after the IPv6 payload (the UDP length would cover them, the inner sum not).
    Bytes trailer = kUdp6AToRemote;
    trailer.push_back(0);
    trailer.push_back(0);
    RunResult padded = node.run_named(node.skel()->progs.from_pod, trailer);
    CHECK(padded.retval == kTcActRedirect);
    CHECK(padded.out.size() == trailer.size());
    // Another upper-layer protocol (SCTP: a CRC, not a one's complement sum).
    Bytes sctp = with_byte(kUdp6AToRemote, 14 + 6, 132);
    RunResult other = node.run_named(node.skel()->progs.from_pod, sctp);
    CHECK(other.retval == kTcActRedirect);
    CHECK(other.out.size() == sctp.size());
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 4);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ENCAP_DIRECT) == 0);
}

TEST_CASE("direct mode: IPv6 too big for the underlay's MTU takes the device path", "[bpf]") {
    REQUIRE(unshare(CLONE_NEWNET) == 0);  // this test's own loopback, MTU 1000
    shuttle::test::must("ip link set lo mtu 1000");
    Overlay6Node node(64, true);
    // A UDP frame of 944 bytes: 1000 once encapsulated (outer IPv6 length), fits.
    Bytes fits = kUdp6AToRemote;
    fits.resize(944, 0x61);
    fits = with_bytes16(fits, 14 + 4, 944 - 54);
    fits = with_bytes16(fits, 14 + 40 + 4, 944 - 54);
    RunResult r = node.run_named(node.skel()->progs.from_pod, fits);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out.size() == fits.size() + 70);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ENCAP_DIRECT) == 1);

    Bytes big = fits;  // one byte more: the device path, which fits it (20 bytes less)
    big.push_back(0x61);
    big = with_bytes16(big, 14 + 4, 945 - 54);
    big = with_bytes16(big, 14 + 40 + 4, 945 - 54);
    RunResult device = node.run_named(node.skel()->progs.from_pod_then_read_key6, big);
    CHECK(device.retval == kTcActRedirect);
    CHECK(device.out.size() == big.size());
    CHECK(same_ip6(node.key6().local_ipv6, kNode2Public6));
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 1);
}

// ---- from_underlay: IPv6 outer headers ------------------------------------------------------
namespace {

// VXLAN over IPv6 from node 2 (fd77::12 -> fd77::11, UDP 54321 -> 8472, VNI 1, a right outer
// checksum) carrying kPing6RemoteToB: fd00:10:244:2::5 -> pod B, hop limit 63.
const Bytes kVxlan6ToB =
    hex("02000000c001 02000000c002 86dd"
        "60000000 0052 11 40 fd770000000000000000000000000012 fd770000000000000000000000000011"
        "d431 2118 0052 c20a"
        "08000000 00000100"
        "0e0000000100 0e0000000600 86dd"
        "60000000000c3a3ffd000010024400020000000000000005fd000010024400010000000000000003"
        "8000a1bb0077000170696e67");
// A TCP SYN-ACK fd00:10:244:2::5:443 -> pod B as node 2's direct path sends it from a pod
// with checksum offload over a veth: the inner TCP checksum field still holds the
// pseudo-header sum (0xfece; complete it is 0x6539), the outer checksum is the final one.
const Bytes kVxlan6TcpToBPartial =
    hex("02000000c001 02000000c002 86dd"
        "60000000 005a 11 40 fd770000000000000000000000000012 fd770000000000000000000000000011"
        "d431 2118 005a f5c5"
        "08000000 00000100"
        "0e0000000100 0e0000000600 86dd"
        "6000000000140640fd000010024400020000000000000005fd000010024400010000000000000003"
        "01bbd431000003e80000000050127210fece0000");
// ...delivered into pod B: B's link MACs, hop limit 63, the inner checksum as it came.
const Bytes kTcpToBDelivered =
    hex("020000000103 020000000a03 86dd"
        "600000000014063ffd000010024400020000000000000005fd000010024400010000000000000003"
        "01bbd431000003e80000000050127210fece0000");

// The frame with its outer UDP checksum recomputed (after a change to a header).
Bytes with_outer_checksum(Bytes frame) {
    frame = with_bytes16(std::move(frame), kOuterUdp6 + 6, 0);
    uint16_t sum = ipv6_upper_sum(frame, 14);
    uint16_t check = static_cast<uint16_t>(~sum);
    return with_bytes16(std::move(frame), kOuterUdp6 + 6, check ? check : 0xffff);
}

}  // namespace

TEST_CASE("from_underlay strips IPv6 VXLAN from a node and delivers into the pod", "[bpf]") {
    REQUIRE(ipv6_upper_sum(kVxlan6ToB, 14) == 0xffff);  // the fixture's own checksum
    Overlay6Node node(64, true);
    RunResult r = node.run_named(node.skel()->progs.from_underlay, kVxlan6ToB);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPing6RemoteToBDelivered);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP_DIRECT) == 1);

    // Checksum offload at the sender: the outer checksum is checked against the inner packet,
    // not summed over it, so a not yet filled-in inner checksum is no obstacle.
    RunResult tcp = node.run_named(node.skel()->progs.from_underlay, kVxlan6TcpToBPartial);
    CHECK(tcp.retval == kTcActRedirect);
    CHECK(tcp.out == kTcpToBDelivered);
    CHECK(node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP_DIRECT) == 2);

    // Receive needs no flag (as IPv4's): a node in device mode takes them too.
    Overlay6Node device_mode;
    CHECK(device_mode.run_named(device_mode.skel()->progs.from_underlay, kVxlan6ToB).out ==
          kPing6RemoteToBDelivered);
}

TEST_CASE("from_underlay leaves IPv6 VXLAN it does not take to the device, unchanged", "[bpf]") {
    Overlay6Node node(64, true);
    const size_t vxlan = kOuterUdp6 + 8, inner = kInnerIp6Off;
    struct Case {
        const char* what;
        Bytes frame;
        uint32_t gso_size = 0;
    } cases[] = {
        {"a wrong outer checksum", with_bytes16(kVxlan6ToB, kOuterUdp6 + 6, 0xc20b)},
        {"no outer checksum", with_bytes16(kVxlan6ToB, kOuterUdp6 + 6, 0)},
        {"a wrong outer checksum (TCP)",
         with_bytes16(kVxlan6TcpToBPartial, kOuterUdp6 + 6, 0xf5c6)},
        {"an outer source that is not the inner source's node",
         with_outer_checksum(with_byte(kVxlan6ToB, 14 + 8 + 15, 0x99))},
        {"an outer destination that is not us",
         with_outer_checksum(with_byte(kVxlan6ToB, 14 + 24 + 15, 0x77))},
        {"another VNI", with_outer_checksum(with_byte(kVxlan6ToB, vxlan + 6, 2))},
        {"GBP flags", with_outer_checksum(with_byte(kVxlan6ToB, vxlan, 0x88))},
        {"an inner source of this node's subnet (forged)",
         with_outer_checksum(with_byte(kVxlan6ToB, inner + 8 + 7, 0x01))},
        {"no pod at the inner destination",
         with_outer_checksum(with_byte(kVxlan6ToB, inner + 24 + 15, 0x77))},
        {"inner hop limit 1", with_outer_checksum(with_byte(kVxlan6ToB, inner + 7, 1))},
        {"an inner hop-by-hop header", with_outer_checksum(with_byte(kVxlan6ToB, inner + 6, 0))},
        {"GSO", kVxlan6ToB, 1000},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        uint64_t before = node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_TO_DEVICE);
        RunResult r = node.run_named(node.skel()->progs.from_underlay, c.frame, c.gso_size);
        CHECK(r.retval == kTcActOk);
        CHECK(r.out == c.frame);
        CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_TO_DEVICE) == before + 1);
    }
    // Cut short: the lengths no longer agree with the headers.
    Bytes cut(kVxlan6ToB.begin(), kVxlan6ToB.end() - 4);
    CHECK(node.run_named(node.skel()->progs.from_underlay, cut).out == cut);
    CHECK(node.total_redirects() == 0);
}

TEST_CASE("from_underlay passes IPv6 that is not VXLAN to our port untouched", "[bpf]") {
    Overlay6Node node(64, true);
    Bytes other_port = with_outer_checksum(with_bytes16(kVxlan6ToB, kOuterUdp6 + 2, 4789));
    Bytes icmp = with_byte(kVxlan6ToB, 14 + 6, 58);
    for (const Bytes& frame : {other_port, icmp}) {
        RunResult r = node.run_named(node.skel()->progs.from_underlay, frame);
        CHECK(r.retval == kTcActOk);
        CHECK(r.out == frame);
    }
    CHECK(node.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_VXLAN) == 2);
}
