// BPF_PROG_TEST_RUN tests of the IPv6 overlay's device path, byte-exact: from_pod's IPv6
// encapsulation for a pod of another node (routes6: inner MACs, hop limit, the IPv6 tunnel
// key with the outer UDP checksum asked for), its fallback to the stack without an entry,
// and from_overlay's delivery of decapsulated IPv6 into a local pod. Tunnel metadata is read
// back (or given) by the probes of tests/bpf/probes.bpf.c.
#include <catch2/catch.hpp>
#include <cstring>

#include "bpf_fixture.h"
#include "ipv6_fixture.h"
#include "overlay_fixture.h"

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
// device, and its MTU (65,536) fits every test packet.
inline shuttle_config config_with_device_lo() {
    shuttle_config cfg = overlay_config();
    cfg.vxlan_ifindex = 1;
    return cfg;
}

// The overlay test node with IPv6 pods A and B, node 2's lease in routes6 and peers6 as the
// agent writes them.
struct Overlay6Node : OverlayNode {
    explicit Overlay6Node(uint32_t subnet_len = 64) : OverlayNode(config_with_device_lo()) {
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
        shuttle_config cfg = config_with_device_lo();
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
