// Every datapath program (from_pod, to_pod, from_overlay, to_overlay, from_underlay) fed bad
// packets through BPF_PROG_TEST_RUN: truncated headers at each layer, IP options, fragments, bad
// IHL and total lengths, VLAN tags, and thousands of seeded random frames. An oracle (below) states
// each program's documented verdict for any frame; every run must match it, a redirect must rewrite
// the frame as documented, and the stats counters must add up to the oracle's tally. Kernel 6.18's
// test-run refuses frames of ETH_HLEN bytes or less, IPv4-typed frames shorter than an IPv4 header
// and IPv6-typed frames shorter than an IPv6 header: those sizes are never fed (the generators skip
// them).
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>

#include "overlay_fixture.h"

namespace {

using namespace bpf_fixture;

enum class Program { FromPod, ToPod, FromOverlay, ToOverlay, FromUnderlay };

const char* name_of(Program program) {
    switch (program) {
        case Program::FromPod:
            return "from_pod";
        case Program::ToPod:
            return "to_pod";
        case Program::FromOverlay:
            return "from_overlay";
        case Program::ToOverlay:
            return "to_overlay";
        case Program::FromUnderlay:
            return "from_underlay";
    }
    return "?";
}

// What a program does with a frame: its return code and the stats entry it counts
// (to_pod counts nothing).
struct Verdict {
    int retval = kTcActOk;
    uint32_t verdict = SHUTTLE_VERDICT_PASS;
    uint32_t reason = 0;
    bool counted = true;
    bool operator==(const Verdict&) const = default;
};

Verdict pass(uint32_t reason) {
    return {kTcActOk, SHUTTLE_VERDICT_PASS, reason};
}
Verdict drop(uint32_t reason) {
    return {kTcActShot, SHUTTLE_VERDICT_DROP, reason};
}
Verdict redirect(uint32_t reason) {
    return {kTcActRedirect, SHUTTLE_VERDICT_REDIRECT, reason};
}

std::string describe(const Verdict& v) {
    static const char* const kVerdicts[] = {"pass", "redirect", "drop", "?"};
    return std::string(kVerdicts[v.verdict & 3]) + "/" + std::to_string(v.reason) + " (rc " +
           std::to_string(v.retval) + ")";
}

// ---- reading a frame ----------------------------------------------------------------------

constexpr size_t kEth = 14;

uint16_t u16_at(const Bytes& f, size_t at) {
    return static_cast<uint16_t>(f.at(at) << 8 | f.at(at + 1));
}
uint32_t addr_at(const Bytes& f, size_t at) {
    uint32_t a;
    std::memcpy(&a, &f.at(at), 4);
    return a;  // network order, as ip() returns
}
bool mac_at(const Bytes& f, size_t at, const char* mac) {
    Bytes m = hex(mac);
    return std::equal(m.begin(), m.end(), f.begin() + static_cast<ptrdiff_t>(at));
}

// ---- this node, as overlay_fixture sets it up -----------------------------------------------

bool is_local_pod(uint32_t addr) {
    return addr == ip("10.244.1.2") || addr == ip("10.244.1.3");
}
bool in_cluster(uint32_t addr) {
    return (ntohl(addr) >> 16) == ((10u << 8) | 244u);
}
bool has_route(uint32_t addr) {  // node 2's 10.244.2.0/24
    return (ntohl(addr) >> 8) == ((10u << 16) | (244u << 8) | 2u);
}
const char* pod_mac_of(uint32_t addr) {
    return addr == ip("10.244.1.2") ? kPodAMac : kPodBMac;
}
const char* host_mac_of(uint32_t addr) {
    return addr == ip("10.244.1.2") ? kHostAMac : kHostBMac;
}

// A frame whose IPv4 header parse_ipv4 accepts (version 4, IHL >= 5; nothing else checked).
bool ipv4_header_ok(const Bytes& f) {
    return (f.at(kEth) >> 4) == 4 && (f.at(kEth) & 0xf) >= 5;
}
uint8_t ttl_of(const Bytes& f) {
    return f.at(kEth + 8);
}

// ---- the oracle: each program's documented verdict ------------------------------------------

Verdict from_pod_ipv4(const Bytes& f) {
    if (!ipv4_header_ok(f))
        return drop(SHUTTLE_DROP_MALFORMED);
    uint32_t saddr = addr_at(f, kEth + 12), daddr = addr_at(f, kEth + 16);
    if (saddr != ip("10.244.1.2"))  // the only pod behind the test-run's ifindex 1
        return drop(SHUTTLE_DROP_SPOOFED_IP);
    if (!mac_at(f, 6, kPodAMac))
        return drop(SHUTTLE_DROP_SPOOFED_MAC);
    if (!is_local_pod(daddr) && !has_route(daddr)) {
        // UDP, not a later fragment, to a node's underlay address: its VXLAN port (or no room
        // for the UDP header) is a tunnel packet from a pod.
        size_t udp = kEth + (f[kEth] & 0xf) * 4u;
        bool to_node = daddr == htonl(kOurUnderlay) || daddr == htonl(kNode2Underlay);
        if (f[kEth + 9] == 17 && (u16_at(f, kEth + 6) & 0x1fff) == 0 && to_node &&
            (f.size() < udp + 8 || u16_at(f, udp + 2) == 8472))
            return drop(SHUTTLE_DROP_TUNNEL_FROM_POD);
        return pass(SHUTTLE_PASS_NOT_LOCAL);
    }
    if (ttl_of(f) <= 1)
        return drop(SHUTTLE_DROP_TTL_EXPIRED);
    return redirect(is_local_pod(daddr) ? SHUTTLE_REDIRECT_LOCAL : SHUTTLE_REDIRECT_REMOTE);
}

Verdict from_pod_arp(const Bytes& f) {
    if (f.size() < kEth + 28 || u16_at(f, kEth) != 1 || u16_at(f, kEth + 2) != 0x0800 ||
        f[kEth + 4] != 6 || f[kEth + 5] != 4)
        return drop(SHUTTLE_DROP_MALFORMED);
    uint32_t sender = addr_at(f, kEth + 14), target = addr_at(f, kEth + 24);
    if (sender == 0)
        return pass(SHUTTLE_PASS_ARP_OTHER);
    if (sender != ip("10.244.1.2"))
        return drop(SHUTTLE_DROP_SPOOFED_IP);
    if (!mac_at(f, 6, kPodAMac) || !mac_at(f, kEth + 8, kPodAMac))
        return drop(SHUTTLE_DROP_SPOOFED_MAC);
    bool answered = target != sender && (target == ip("10.244.1.1") || in_cluster(target));
    if (u16_at(f, kEth + 6) != 1 || !answered)
        return pass(SHUTTLE_PASS_ARP_OTHER);
    return redirect(SHUTTLE_REDIRECT_ARP_REPLY);
}

Verdict from_pod_oracle(const Bytes& f) {
    switch (u16_at(f, 12)) {
        case 0x0800:
            return from_pod_ipv4(f);
        case 0x0806:
            return from_pod_arp(f);
        default:
            return pass(SHUTTLE_PASS_NON_IP);
    }
}

// vni: what the decapsulating device reported, -1 for a packet without tunnel metadata.
Verdict from_overlay_oracle(const Bytes& f, int64_t vni) {
    if (u16_at(f, 12) != 0x0800)
        return pass(SHUTTLE_PASS_NON_IP);
    if (!ipv4_header_ok(f))
        return drop(SHUTTLE_DROP_MALFORMED);
    if (vni != 1)
        return drop(SHUTTLE_DROP_WRONG_VNI);
    uint32_t src = addr_at(f, kEth + 12);  // the probe's outer source is node 2
    if (!has_route(src) && src != htonl(kNode2Underlay))
        return drop(SHUTTLE_DROP_FORGED_INNER_SRC);
    if (!is_local_pod(addr_at(f, kEth + 16)))
        return pass(SHUTTLE_PASS_NOT_LOCAL);
    if (ttl_of(f) <= 1)
        return drop(SHUTTLE_DROP_TTL_EXPIRED);
    return redirect(SHUTTLE_REDIRECT_DECAP);
}

Verdict to_overlay_oracle(const Bytes& f) {
    if (u16_at(f, 12) != 0x0800)
        return pass(SHUTTLE_PASS_NON_IP);
    if (!ipv4_header_ok(f))
        return drop(SHUTTLE_DROP_MALFORMED);
    if (!has_route(addr_at(f, kEth + 16)))
        return drop(SHUTTLE_DROP_NO_ROUTE);
    return pass(SHUTTLE_PASS_ENCAP);
}

// VXLAN from the underlay: outer Ethernet, IPv4 (no options), UDP, VXLAN, inner Ethernet,
// inner IPv4. This node is 192.168.0.1, port 8472; node 2 (192.168.0.2) holds 10.244.2.0/24.
constexpr size_t kOuterUdp = kEth + 20, kVxlan = kOuterUdp + 8, kInnerEth = kVxlan + 8,
                 kInnerIp = kInnerEth + kEth;

Verdict from_underlay_oracle(const Bytes& f) {
    if (u16_at(f, 12) != 0x0800 || (f[kEth] >> 4) != 4 || f[kEth + 9] != 17 ||
        addr_at(f, kEth + 16) != htonl(kOurUnderlay))
        return pass(SHUTTLE_PASS_NOT_VXLAN);
    if ((f[kEth] & 0xf) != 5 || (u16_at(f, kEth + 6) & 0x3fff) != 0 || f.size() < kOuterUdp + 8)
        return pass(SHUTTLE_PASS_TO_DEVICE);  // options, fragments, a cut UDP header
    if (u16_at(f, kOuterUdp + 2) != 8472)
        return pass(SHUTTLE_PASS_NOT_VXLAN);
    if (f.size() < kInnerIp + 20 || u16_at(f, kVxlan) != 0x0800 || u16_at(f, kVxlan + 2) != 0 ||
        f[kVxlan + 7] != 0 || u16_at(f, kInnerEth + 12) != 0x0800 || (f[kInnerIp] >> 4) != 4 ||
        (f[kInnerIp] & 0xf) < 5)
        return pass(SHUTTLE_PASS_TO_DEVICE);
    uint32_t vni = (u16_at(f, kVxlan + 4) << 8) | f[kVxlan + 6];
    if (vni != 1)
        return drop(SHUTTLE_DROP_WRONG_VNI);
    uint32_t outer_src = addr_at(f, kEth + 12), inner_src = addr_at(f, kInnerIp + 12);
    if (outer_src != htonl(kNode2Underlay))
        return drop(SHUTTLE_DROP_UNKNOWN_NODE);
    if (!has_route(inner_src) && inner_src != outer_src)  // a node may send from its address
        return drop(SHUTTLE_DROP_FORGED_INNER_SRC);
    if (!is_local_pod(addr_at(f, kInnerIp + 16)))
        return pass(SHUTTLE_PASS_TO_DEVICE);
    if (f[kInnerIp + 8] <= 1)
        return drop(SHUTTLE_DROP_TTL_EXPIRED);
    return redirect(SHUTTLE_REDIRECT_DECAP_DIRECT);
}

// The frame from_underlay hands into the pod: the outer Ethernet header kept, the 50 bytes
// after it gone.
Bytes stripped(const Bytes& f) {
    Bytes out(f.begin(), f.begin() + kEth);
    out.insert(out.end(), f.begin() + kInnerIp, f.end());
    return out;
}

Verdict to_pod_oracle(const Bytes&) {
    Verdict v = pass(0);
    v.counted = false;  // to_pod never drops and counts nothing
    return v;
}

// ---- what a verdict does to the frame -------------------------------------------------------

// The one's complement sum of the IPv4 header as far as the frame holds it: 0xffff = valid.
uint16_t header_sum(const Bytes& f) {
    size_t len = std::min<size_t>((f.at(kEth) & 0xf) * 4u, f.size() - kEth) & ~size_t{1};
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i += 2)
        sum += u16_at(f, kEth + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

Bytes with_macs(Bytes f, const char* dst, const char* src) {
    set_mac(f.data(), dst);
    set_mac(f.data() + 6, src);
    return f;
}

// A forwarded IPv4 frame: new MACs, TTL-1 with the checksum patched, nothing else changed.
void check_forwarded(const Bytes& in, const Bytes& out, const char* dst, const char* src) {
    Bytes expected = with_macs(in, dst, src);
    expected[kEth + 8] = static_cast<uint8_t>(in[kEth + 8] - 1);
    REQUIRE(out.size() == in.size());
    expected[kEth + 10] = out[kEth + 10];
    expected[kEth + 11] = out[kEth + 11];
    CHECK(out == expected);
    if (header_sum(in) == 0xffff)
        CHECK(header_sum(out) == 0xffff);
}

void check_arp_reply(const Bytes& in, const Bytes& out) {
    Bytes expected = with_macs(in, kPodAMac, kHostAMac);
    expected[kEth + 7] = 2;  // op: reply
    std::copy(in.begin() + kEth + 8, in.begin() + kEth + 18, expected.begin() + kEth + 18);
    set_mac(expected.data() + kEth + 8, kHostAMac);
    std::copy(in.begin() + kEth + 24, in.begin() + kEth + 28, expected.begin() + kEth + 14);
    CHECK(out == expected);
}

void check_output(Program program, const Verdict& v, const Bytes& in, const Bytes& out) {
    if (v.verdict == SHUTTLE_VERDICT_DROP)
        return;  // a dropped frame goes nowhere
    if (v.verdict == SHUTTLE_VERDICT_REDIRECT) {
        if (v.reason == SHUTTLE_REDIRECT_DECAP_DIRECT)
            return check_output(program, redirect(SHUTTLE_REDIRECT_DECAP), stripped(in), out);
        uint32_t daddr = v.reason == SHUTTLE_REDIRECT_ARP_REPLY ? 0 : addr_at(in, kEth + 16);
        switch (v.reason) {
            case SHUTTLE_REDIRECT_ARP_REPLY:
                return check_arp_reply(in, out);
            case SHUTTLE_REDIRECT_REMOTE:
                return check_forwarded(in, out, kNode2Vtep, kOurVtep);
            default:  // local, decap
                return check_forwarded(in, out, pod_mac_of(daddr), host_mac_of(daddr));
        }
    }
    if (program == Program::ToOverlay && v.reason == SHUTTLE_PASS_ENCAP)
        CHECK(out == with_macs(in, kNode2Vtep, kOurVtep));
    else
        CHECK(out == in);  // a pass leaves the frame as it was
}

// ---- running ----------------------------------------------------------------------------------

// One node per program (to_pod and to_overlay record NAT pairs that would change the
// others' verdicts), with the oracle's tally of counters.
class Harness {
  public:
    explicit Harness(Program program) : program_(program) {}

    // vni applies to from_overlay: the VNI of the decapsulating device, -1 for none.
    void feed(const Bytes& frame, int64_t vni = 1) {
        if (!feedable(frame))
            return;
        Verdict expected = oracle(frame, vni);
        RunResult r = run(frame, vni);
        INFO(name_of(program_) << " frame of " << frame.size() << " bytes: " << hex_of(frame));
        INFO("expected " << describe(expected) << ", got rc " << r.retval);
        REQUIRE(r.retval == expected.retval);
        check_output(program_, expected, frame, r.out);
        if (expected.counted)
            ++tally_[{expected.verdict, expected.reason}];
        ++fed_;
        redirects_ += expected.retval == kTcActRedirect;
    }

    // The stats map holds exactly the oracle's tally.
    void check_counters() {
        for (uint32_t verdict = 0; verdict < SHUTTLE_VERDICTS; ++verdict) {
            for (uint32_t reason = 0; reason < SHUTTLE_REASONS_PER_VERDICT; ++reason) {
                INFO(name_of(program_) << " counter " << verdict << "/" << reason);
                CHECK(node_.counted(verdict, reason) == tally_[{verdict, reason}]);
            }
        }
    }

    // Test-run refuses these (EINVAL): nothing to learn from feeding them.
    static bool feedable(const Bytes& f) {
        if (f.size() <= kEth)
            return false;
        uint16_t type = u16_at(f, 12);
        return !(type == 0x0800 && f.size() < kEth + 20) &&
               !(type == 0x86dd && f.size() < kEth + 40);
    }

    size_t fed() const { return fed_; }
    size_t redirects() const { return redirects_; }

  private:
    Verdict oracle(const Bytes& f, int64_t vni) const {
        switch (program_) {
            case Program::FromPod:
                return from_pod_oracle(f);
            case Program::ToPod:
                return to_pod_oracle(f);
            case Program::FromOverlay:
                return from_overlay_oracle(f, vni);
            case Program::ToOverlay:
                return to_overlay_oracle(f);
            case Program::FromUnderlay:
                return from_underlay_oracle(f);
        }
        return {};
    }

    RunResult run(const Bytes& f, int64_t vni) {
        auto* progs = &node_.skel()->progs;
        switch (program_) {
            case Program::FromPod:
                return node_.run_named(progs->from_pod, f);
            case Program::ToPod:
                return node_.run_named(progs->to_pod, f);
            case Program::FromOverlay:
                if (vni < 0)
                    return node_.run_named(progs->from_overlay, f);
                node_.skel()->bss->probe_vni = static_cast<uint32_t>(vni);
                return node_.run_named(progs->from_overlay_with_vni, f);
            case Program::ToOverlay:
                return node_.run_named(progs->to_overlay, f);
            case Program::FromUnderlay:
                return node_.run_named(progs->from_underlay, f);
        }
        return {};
    }

    static std::string hex_of(const Bytes& f) {
        static const char* const kDigits = "0123456789abcdef";
        std::string out;
        for (uint8_t b : f) {
            out += kDigits[b >> 4];
            out += kDigits[b & 15];
        }
        return out;
    }

    Program program_;
    OverlayNode node_;
    std::map<std::pair<uint32_t, uint32_t>, uint64_t> tally_;
    size_t fed_ = 0, redirects_ = 0;
};

const Program kPrograms[] = {Program::FromPod, Program::ToPod, Program::FromOverlay,
                             Program::ToOverlay, Program::FromUnderlay};

// ---- frames -------------------------------------------------------------------------------------

// A well-formed IPv4 frame: MACs, addresses, TTL, then `payload` bytes of ICMP-ish data.
Bytes ipv4_frame(const char* src_mac, const char* saddr, const char* daddr, uint8_t ttl = 64,
                 size_t payload = 12) {
    Bytes f = with_macs(Bytes(kEth, 0), "0e0000000100", src_mac);
    f[12] = 0x08;
    Bytes h = hex("45000000 1234 4000 40 01 0000 00000000 00000000");
    h[8] = ttl;
    uint16_t total = static_cast<uint16_t>(20 + payload);
    h[2] = total >> 8;
    h[3] = total & 0xff;
    uint32_t s = ip(saddr), d = ip(daddr);
    std::memcpy(&h[12], &s, 4);
    std::memcpy(&h[16], &d, 4);
    f.insert(f.end(), h.begin(), h.end());
    for (size_t i = 0; i < payload; ++i)
        f.push_back(static_cast<uint8_t>(i * 7));
    return f;
}

// Sets the header checksum right for whatever the header now says.
Bytes with_ipv4_checksum(Bytes f) {
    f[kEth + 10] = f[kEth + 11] = 0;
    uint16_t c = static_cast<uint16_t>(~header_sum(f));
    f[kEth + 10] = c >> 8;
    f[kEth + 11] = c & 0xff;
    return f;
}

// Inserts `options` bytes after the 20-byte header and sets IHL (and the total length).
Bytes with_options(Bytes f, const Bytes& options) {
    f.insert(f.begin() + kEth + 20, options.begin(), options.end());
    f[kEth] = static_cast<uint8_t>(0x40 | ((20 + options.size()) / 4));
    uint16_t total = static_cast<uint16_t>(u16_at(f, kEth + 2) + options.size());
    f[kEth + 2] = total >> 8;
    f[kEth + 3] = total & 0xff;
    return with_ipv4_checksum(f);
}

Bytes with_u16(Bytes f, size_t at, uint16_t value) {
    f.at(at) = value >> 8;
    f.at(at + 1) = value & 0xff;
    return f;
}

Bytes truncated(const Bytes& f, size_t size) {
    return Bytes(f.begin(), f.begin() + static_cast<ptrdiff_t>(std::min(size, f.size())));
}

// `inner` as node 2 sends it through the underlay: outer IPv4 192.168.0.2 -> 192.168.0.1,
// UDP 54321 -> 8472 (no checksum), VXLAN with the VNI flag and VNI 1.
Bytes vxlan_frame(const Bytes& inner) {
    Bytes f = with_macs(Bytes(kEth, 0), "02000000c001", "02000000c002");
    f[12] = 0x08;
    uint16_t udp_len = static_cast<uint16_t>(16 + inner.size());
    Bytes h =
        hex("45000000 4321 0000 40 11 0000 c0a80002 c0a80001"
            "d431 2118 0000 0000  08000000 00000100");
    h[2] = static_cast<uint8_t>((20 + udp_len) >> 8);
    h[3] = static_cast<uint8_t>((20 + udp_len) & 0xff);
    h[24] = udp_len >> 8;
    h[25] = udp_len & 0xff;
    f.insert(f.end(), h.begin(), h.end());
    f.insert(f.end(), inner.begin(), inner.end());
    return with_ipv4_checksum(f);
}

// The frames every program sees in each class: what pods send, what arrives decapsulated,
// what the host routes into the tunnel.
std::vector<Bytes> base_frames() {
    return {
        with_ipv4_checksum(ipv4_frame(kPodAMac, "10.244.1.2", "10.244.1.3")),    // local
        with_ipv4_checksum(ipv4_frame(kPodAMac, "10.244.1.2", "10.244.2.5")),    // remote
        with_ipv4_checksum(ipv4_frame(kNode2Vtep, "10.244.2.5", "10.244.1.3")),  // decap
        with_ipv4_checksum(ipv4_frame(kOurVtep, "10.244.1.0", "10.244.2.5")),    // host->remote
        hex("ffffffffffff 020000000102 0806"
            "0001 0800 06 04 0001 020000000102 0af40102 000000000000 0af40101"),  // ARP gw
        vxlan_frame(with_ipv4_checksum(ipv4_frame(kNode2Vtep, "10.244.2.5", "10.244.1.3", 63))),
    };
}

// 802.1Q (and 802.1ad + 802.1Q) tags in front of the EtherType.
Bytes with_vlan(const Bytes& f, std::initializer_list<uint16_t> tpids) {
    Bytes out(f.begin(), f.begin() + 12);
    for (uint16_t tpid : tpids) {
        out.push_back(tpid >> 8);
        out.push_back(tpid & 0xff);
        out.push_back(0x00);
        out.push_back(0x07);  // VID 7
    }
    out.insert(out.end(), f.begin() + 12, f.end());
    return out;
}

// A frame of random bytes; when `like` is given, a mutation of it instead (a few bytes of
// the headers changed, sometimes cut or extended), which gets much further into the parsers.
Bytes random_frame(std::mt19937& rng, const std::vector<Bytes>& seeds) {
    auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
    auto byte = [&] { return static_cast<uint8_t>(pick(256)); };
    if (pick(4) == 0) {
        Bytes f(15 + pick(120));
        for (auto& b : f)
            b = byte();
        if (pick(2) == 0) {  // a known EtherType, so the bytes reach the IPv4/ARP parsers
            static const uint16_t kTypes[] = {0x0800, 0x0806, 0x8100, 0x86dd};
            f = with_u16(f, 12, kTypes[pick(4)]);
        }
        return f;
    }
    Bytes f = seeds[pick(seeds.size())];
    for (size_t n = 1 + pick(4); n > 0; --n)
        f[pick(std::min<size_t>(f.size(), kInnerIp + 20))] = byte();
    if (pick(3) == 0)
        f.resize(15 + pick(f.size() + 16), byte());
    if (pick(2) == 0 && u16_at(f, 12) == 0x0800 && f.size() >= kEth + 20)
        f = with_ipv4_checksum(f);  // half the mutants pass a checksum test (none is made)
    return f;
}

}  // namespace

TEST_CASE("bad packets: truncated headers at each layer", "[bpf][bad-packets]") {
    for (Program program : kPrograms) {
        Harness h(program);
        for (const Bytes& f : base_frames()) {
            for (size_t size = kEth + 1; size <= f.size(); ++size)
                h.feed(truncated(f, size));
        }
        // The headers alone, nothing after them: IPv4 without a byte of payload is whole.
        h.feed(truncated(base_frames()[0], kEth + 20));
        h.feed(truncated(base_frames()[2], kEth + 20));
        h.check_counters();
        // 4 IPv4 frames of 46 bytes at 34..46 bytes (test-run refuses less), the ARP
        // request at 15..42 bytes, the VXLAN frame of 96 bytes at 34..96, the 2 bare headers
        CHECK(h.fed() == 4 * 13 + 28 + 63 + 2);
    }
}

TEST_CASE("bad packets: IP options, fragments, bad IHL and lengths, VLAN tags",
          "[bpf][bad-packets]") {
    const Bytes kRouterAlert = hex("94040000");
    const Bytes kLongOptions =
        hex("01010101 01010101 01010101 01010101 01010101 01010101"
            "01010101 01010101 01010101 01010100");  // 40 bytes: IHL 15
    for (Program program : kPrograms) {
        Harness h(program);
        for (const Bytes& f : base_frames()) {
            if (u16_at(f, 12) != 0x0800) {
                h.feed(with_vlan(f, {0x8100}));
                continue;
            }
            h.feed(with_options(f, kRouterAlert));
            h.feed(with_options(f, kLongOptions));
            // IHL says options follow, the frame ends first
            h.feed(with_ipv4_checksum(with_byte(f, kEth, 0x4f)));
            h.feed(with_ipv4_checksum(with_u16(f, kEth + 6, 0x2000)));        // first fragment (MF)
            h.feed(with_ipv4_checksum(with_u16(f, kEth + 6, 0x00b9)));        // a later fragment
            h.feed(with_ipv4_checksum(with_u16(f, kEth + 6, 0x3fff)));        // MF, last offset
            for (uint8_t first : {0x40, 0x41, 0x44, 0x35, 0x65, 0x00, 0xff})  // version, IHL
                h.feed(with_ipv4_checksum(with_byte(f, kEth, first)));
            for (uint16_t total : {0, 19, 20, 21, 0xffff})  // shorter/longer than the frame
                h.feed(with_ipv4_checksum(with_u16(f, kEth + 2, total)));
            h.feed(with_u16(f, kEth + 10, 0x0000));  // a wrong checksum
            h.feed(with_vlan(f, {0x8100}));
            h.feed(with_vlan(f, {0x88a8, 0x8100}));
            h.feed(with_u16(f, 12, 0x86dd));  // IPv6 EtherType on IPv4 bytes, whole header
            for (uint8_t ttl : {0, 1, 2, 255})
                h.feed(with_ipv4_checksum(with_ttl(f, ttl)));
        }
        h.check_counters();
    }
}

TEST_CASE("bad packets: from_overlay with a wrong or no VNI", "[bpf][bad-packets]") {
    Harness h(Program::FromOverlay);
    for (const Bytes& f : base_frames()) {
        for (int64_t vni : {-1, 0, 2, 1 << 23, (1 << 24) - 1})
            h.feed(f, vni);
    }
    h.check_counters();
}

TEST_CASE("bad packets: 3,000 seeded random frames per program", "[bpf][bad-packets]") {
    const uint32_t seed = GENERATE(20261206u, 7u);
    for (Program program : kPrograms) {
        std::mt19937 rng(seed);
        Harness h(program);
        std::vector<Bytes> seeds = base_frames();
        for (const Bytes& f : base_frames())
            seeds.push_back(with_options(f, hex("94040000")));
        while (h.fed() < 3000) {
            Bytes f = random_frame(rng, seeds);
            int64_t vni = (rng() % 8 == 0) ? static_cast<int64_t>(rng() % 4) - 1 : 1;
            h.feed(f, vni);
        }
        h.check_counters();
        INFO(name_of(program) << " seed " << seed);
        if (program == Program::FromPod || program == Program::FromOverlay ||
            program == Program::FromUnderlay)
            CHECK(h.redirects() > 0);  // the mutants do reach the forwarding paths
        WARN(name_of(program) << ": " << h.fed() << " random frames, " << h.redirects()
                              << " redirected as the oracle predicted");
    }
}
