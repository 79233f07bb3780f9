// BPF_PROG_TEST_RUN tests of the from-pod program with byte-exact packet fixtures.
// The skeleton is loaded without pins; the sending pod's host veth is the test-run skb's
// device, loopback (ifindex 1).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "from_pod.skel.h"
#include "from_pod_bench.skel.h"
#include "shuttle_abi.h"

namespace {

using Bytes = std::vector<uint8_t>;

constexpr int kTcActOk = 0;
constexpr int kTcActShot = 2;
constexpr int kTcActRedirect = 7;
constexpr uint32_t kSenderIfindex = 1;  // loopback: the test-run skb's device
constexpr uint32_t kPeerIfindex = 42;

Bytes hex(std::string_view text) {
    Bytes out;
    std::string digits;
    for (char c : text) {
        if (std::isxdigit(static_cast<unsigned char>(c))) {
            digits += c;
        }
    }
    for (size_t i = 0; i + 1 < digits.size(); i += 2) {
        out.push_back(static_cast<uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
    }
    return out;
}

uint32_t ip(const char* text) {
    in_addr a{};
    inet_pton(AF_INET, text, &a);
    return a.s_addr;
}

void set_mac(uint8_t* dst, std::string_view text) {
    Bytes b = hex(text);
    std::copy(b.begin(), b.end(), dst);
}

// Pod A (the sender) at 10.244.1.2 behind host veth ifindex 1; pod B at 10.244.1.3 behind
// ifindex 42; gateway 10.244.1.1; cluster 10.244.0.0/16.
const char* const kPodAMac = "020000000102";
const char* const kHostAMac = "020000000a02";
const char* const kPodBMac = "020000000103";
const char* const kHostBMac = "020000000a03";

struct RunResult {
    int retval = -1;
    Bytes out;
};

template <class Skel>
struct SkelOps;
template <>
struct SkelOps<from_pod_bpf> {
    static from_pod_bpf* open_and_load(bool nat_check) {
        from_pod_bpf* s = from_pod_bpf__open();
        if (s) {
            s->rodata->nat_check_enabled = nat_check;
            if (from_pod_bpf__load(s) != 0) {
                from_pod_bpf__destroy(s);
                return nullptr;
            }
        }
        return s;
    }
    static void destroy(from_pod_bpf* s) { from_pod_bpf__destroy(s); }
    static int prog_fd(from_pod_bpf* s) { return bpf_program__fd(s->progs.from_pod); }
};
template <>
struct SkelOps<from_pod_bench_bpf> {
    static from_pod_bench_bpf* open_and_load(bool nat_check) {
        from_pod_bench_bpf* s = from_pod_bench_bpf__open();
        if (s) {
            s->rodata->nat_check_enabled = nat_check;
            if (from_pod_bench_bpf__load(s) != 0) {
                from_pod_bench_bpf__destroy(s);
                return nullptr;
            }
        }
        return s;
    }
    static void destroy(from_pod_bench_bpf* s) { from_pod_bench_bpf__destroy(s); }
    static int prog_fd(from_pod_bench_bpf* s) {
        return bpf_program__fd(s->progs.restore_then_from_pod);
    }
};

template <class Skel>
struct SkelDeleter {
    void operator()(Skel* s) const { SkelOps<Skel>::destroy(s); }
};

// The program loaded from skeleton `Skel` with two local pods and the node config.
template <class Skel>
class Loaded {
  public:
    explicit Loaded(bool nat_check = true) : skel_(SkelOps<Skel>::open_and_load(nat_check)) {
        REQUIRE(skel_);
        shuttle_config cfg{};
        cfg.layout_version = SHUTTLE_LAYOUT_VERSION;
        cfg.node_subnet = ip("10.244.0.0");  // a /16, so the benchmark fits 10,000 pods
        cfg.node_subnet_len = 16;
        cfg.gateway = ip("10.244.1.1");
        cfg.cluster_network = ip("10.244.0.0");
        cfg.cluster_len = 16;
        set_config(cfg);
        add_endpoint(ip("10.244.1.2"), kSenderIfindex, kPodAMac, kHostAMac);
        add_endpoint(ip("10.244.1.3"), kPeerIfindex, kPodBMac, kHostBMac);
    }

    void set_config(const shuttle_config& cfg) {
        uint32_t zero = 0;
        REQUIRE(bpf_map_update_elem(fd(skel_->maps.node_config), &zero, &cfg, 0) == 0);
    }

    // The endpoints array is indexed by the address's offset in the node subnet.
    static uint32_t slot_of(uint32_t addr) { return ntohl(addr) - ntohl(ip("10.244.0.0")); }

    void add_endpoint(uint32_t addr, uint32_t ifindex, const char* pod_mac, const char* host_mac,
                      uint32_t flags = 0) {
        shuttle_endpoint ep{};
        ep.flags = flags;
        ep.ifindex = ifindex;
        ep.pod_ip = addr;
        set_mac(ep.pod_mac, pod_mac);
        set_mac(ep.host_mac, host_mac);
        ep.attach_mode = SHUTTLE_ATTACH_TCX;
        uint32_t slot = slot_of(addr);
        REQUIRE(bpf_map_update_elem(fd(skel_->maps.endpoints), &slot, &ep, 0) == 0);
    }

    RunResult run(const Bytes& in, int repeat = 1, uint32_t* duration_ns = nullptr) {
        return run_prog(SkelOps<Skel>::prog_fd(skel_.get()), in, repeat, duration_ns);
    }

    RunResult run_prog(int prog_fd, const Bytes& in, int repeat = 1,
                       uint32_t* duration_ns = nullptr) {
        RunResult result;
        result.out.resize(in.size() + 256);
        __sk_buff ctx{};
        ctx.ifindex = kSenderIfindex;
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = result.out.data(),
                    .data_size_in = static_cast<__u32>(in.size()),
                    .data_size_out = static_cast<__u32>(result.out.size()), .ctx_in = &ctx,
                    .ctx_size_in = sizeof ctx, .repeat = repeat);
        int err = bpf_prog_test_run_opts(prog_fd, &opts);
        REQUIRE(err == 0);
        result.retval = static_cast<int>(opts.retval);
        result.out.resize(opts.data_size_out);
        if (duration_ns) {
            *duration_ns = opts.duration;
        }
        return result;
    }

    // Packets counted under `key`, summed over all CPUs.
    uint64_t counted(uint32_t verdict, uint32_t reason) const {
        uint32_t key = SHUTTLE_STAT_KEY(verdict, reason);
        std::vector<shuttle_stat> per_cpu(libbpf_num_possible_cpus());
        REQUIRE(bpf_map_lookup_elem(fd(skel_->maps.stats), &key, per_cpu.data()) == 0);
        uint64_t sum = 0;
        for (const auto& s : per_cpu) {
            sum += s.packets;
        }
        return sum;
    }

    uint64_t total_redirects() const {
        uint64_t sum = 0;
        for (uint32_t r = 0; r < SHUTTLE_REASONS_PER_VERDICT; ++r) {
            sum += counted(SHUTTLE_VERDICT_REDIRECT, r);
        }
        return sum;
    }

    Skel* skel() { return skel_.get(); }

  private:
    static int fd(const bpf_map* map) { return bpf_map__fd(map); }
    std::unique_ptr<Skel, SkelDeleter<Skel>> skel_;
};

using FromPod = Loaded<from_pod_bpf>;

// ---- fixtures ----------------------------------------------------------------------------

// Pod A asks who has 10.244.1.1 (its gateway).
const Bytes kArpForGateway =
    hex("ffffffffffff 020000000102 0806"
        "0001 0800 06 04 0001 020000000102 0af40102 000000000000 0af40101");
// ...and the host veth's MAC answers, back towards pod A.
const Bytes kArpReplyFromGateway =
    hex("020000000102 020000000a02 0806"
        "0001 0800 06 04 0002 020000000a02 0af40101 020000000102 0af40102");
// DAD probe: pod A asks for its own address, sender 0.0.0.0.
const Bytes kArpDadProbe =
    hex("ffffffffffff 020000000102 0806"
        "0001 0800 06 04 0001 020000000102 00000000 000000000000 0af40102");
// Pod A asks for 192.168.7.7, outside the cluster.
const Bytes kArpOutsideCluster =
    hex("ffffffffffff 020000000102 0806"
        "0001 0800 06 04 0001 020000000102 0af40102 000000000000 c0a80707");
// ICMP echo 10.244.1.2 -> 10.244.1.3, TTL 64.
const Bytes kPingAToB =
    hex("020000000a02 020000000102 0800"
        "4500002012344000400110bd0af401020af40103 080018b70077000170696e67");
// The same after forwarding: MACs of pod B's link, TTL 63, checksum patched.
const Bytes kPingAToBForwarded =
    hex("020000000103 020000000a03 0800"
        "45000020123440003f0111bd0af401020af40103 080018b70077000170696e67");
// ICMP echo 10.244.1.2 -> 1.1.1.1 (not a local pod).
const Bytes kPingOutside =
    hex("020000000a02 020000000102 0800"
        "450000201234400040011ab20af4010201010101 080018b70077000170696e67");

Bytes with_byte(Bytes b, size_t offset, uint8_t value) {
    b.at(offset) = value;
    return b;
}

Bytes with_ttl(Bytes b, uint8_t ttl) {
    return with_byte(std::move(b), 14 + 8, ttl);
}

Bytes with_source_ip(Bytes b, const char* text) {
    uint32_t a = ip(text);
    std::memcpy(&b.at(14 + 12), &a, 4);
    return b;
}

uint16_t ipv4_checksum(const uint8_t* header) {
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) {
        sum += (header[i] << 8) | header[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<uint16_t>(sum);  // 0xffff when the stored checksum is right
}

}  // namespace

TEST_CASE("ARP request for the gateway gets the exact reply, back out of the veth", "[bpf]") {
    FromPod prog;
    RunResult r = prog.run(kArpForGateway);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kArpReplyFromGateway);
    CHECK(prog.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ARP_REPLY) == 1);
}

TEST_CASE("ARP request for another cluster address is answered with the host MAC", "[bpf]") {
    FromPod prog;
    Bytes request = with_byte(kArpForGateway, 41, 0x03);  // 10.244.1.3
    request = with_byte(request, 40, 0x07);               // 10.244.7.3: a remote node's pod
    RunResult r = prog.run(request);
    CHECK(r.retval == kTcActRedirect);
    Bytes expected = with_byte(with_byte(kArpReplyFromGateway, 30, 0x07), 31, 0x03);
    CHECK(r.out == expected);
}

TEST_CASE("ARP for the pod's own address passes to the stack unchanged (DAD)", "[bpf]") {
    FromPod prog;
    RunResult r = prog.run(kArpDadProbe);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kArpDadProbe);
    CHECK(prog.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_ARP_OTHER) == 1);
    CHECK(prog.total_redirects() == 0);
}

TEST_CASE("ARP for an address outside the cluster passes", "[bpf]") {
    FromPod prog;
    RunResult r = prog.run(kArpOutsideCluster);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kArpOutsideCluster);
}

TEST_CASE("ARP with a spoofed sender is dropped and counted", "[bpf]") {
    FromPod prog;
    Bytes spoofed_ip = with_byte(kArpForGateway, 31, 0x09);  // sender 10.244.1.9
    CHECK(prog.run(spoofed_ip).retval == kTcActShot);
    CHECK(prog.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_IP) == 1);
    Bytes spoofed_mac = with_byte(kArpForGateway, 27, 0x09);  // sender MAC ..:01:09
    CHECK(prog.run(spoofed_mac).retval == kTcActShot);
    CHECK(prog.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_MAC) == 1);
}

TEST_CASE("IPv4 to a local endpoint is redirected with rewritten MACs and TTL-1", "[bpf]") {
    FromPod prog;
    RunResult r = prog.run(kPingAToB);
    CHECK(r.retval == kTcActRedirect);
    CHECK(r.out == kPingAToBForwarded);
    REQUIRE(r.out.size() >= 34);
    CHECK(r.out[14 + 8] == 63);
    CHECK(ipv4_checksum(&r.out[14]) == 0xffff);
    CHECK(prog.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_LOCAL) == 1);
}

TEST_CASE("TTL checksum update carries correctly at the 0xffff boundary", "[bpf]") {
    FromPod prog;
    // TTL 2 with identification chosen so the checksum sits near the carry.
    for (uint16_t ident : {0x0000, 0x0123, 0xfeff, 0xff00, 0xffff}) {
        Bytes in = with_ttl(kPingAToB, 2);
        in[14 + 4] = ident >> 8;
        in[14 + 5] = ident & 0xff;
        in[14 + 10] = in[14 + 11] = 0;
        uint16_t c = static_cast<uint16_t>(~ipv4_checksum(&in[14]));
        in[14 + 10] = c >> 8;
        in[14 + 11] = c & 0xff;
        REQUIRE(ipv4_checksum(&in[14]) == 0xffff);
        RunResult r = prog.run(in);
        REQUIRE(r.retval == kTcActRedirect);
        CHECK(r.out[14 + 8] == 1);
        CHECK(ipv4_checksum(&r.out[14]) == 0xffff);
    }
}

TEST_CASE("TTL 1 towards a local endpoint is dropped and counted", "[bpf]") {
    FromPod prog;
    Bytes in = with_ttl(kPingAToB, 1);
    RunResult r = prog.run(in);
    CHECK(r.retval == kTcActShot);
    CHECK(prog.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_TTL_EXPIRED) == 1);
    CHECK(prog.total_redirects() == 0);
}

TEST_CASE("a spoofed source IP is dropped and counted", "[bpf]") {
    FromPod prog;
    RunResult r = prog.run(with_source_ip(kPingAToB, "10.244.1.3"));
    CHECK(r.retval == kTcActShot);
    CHECK(prog.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_IP) == 1);
    CHECK(prog.total_redirects() == 0);
}

TEST_CASE("a spoofed source MAC is dropped and counted", "[bpf]") {
    FromPod prog;
    RunResult r = prog.run(with_byte(kPingAToB, 11, 0x77));
    CHECK(r.retval == kTcActShot);
    CHECK(prog.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_MAC) == 1);
}

TEST_CASE("a pod's own source address sent through another veth is dropped", "[bpf]") {
    FromPod prog;
    prog.add_endpoint(ip("10.244.1.2"), 7, kPodAMac, kHostAMac);  // A lives behind ifindex 7
    CHECK(prog.run(kPingAToB).retval == kTcActShot);
    CHECK(prog.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_SPOOFED_IP) == 1);
    CHECK(prog.total_redirects() == 0);
}

TEST_CASE("without a node config every pod packet is dropped and counted", "[bpf]") {
    FromPod prog;
    prog.set_config(shuttle_config{});
    CHECK(prog.run(kPingAToB).retval == kTcActShot);
    CHECK(prog.run(kArpForGateway).retval == kTcActShot);
    CHECK(prog.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_NO_CONFIG) == 2);
}

TEST_CASE("a gratuitous ARP for the pod's own address passes", "[bpf]") {
    FromPod prog;
    Bytes announce = with_byte(kArpForGateway, 41, 0x02);  // target = sender = 10.244.1.2
    RunResult r = prog.run(announce);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == announce);
    CHECK(prog.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_ARP_OTHER) == 1);
}

TEST_CASE("an unknown destination passes to the stack unchanged", "[bpf]") {
    FromPod prog;
    RunResult r = prog.run(kPingOutside);
    CHECK(r.retval == kTcActOk);
    CHECK(r.out == kPingOutside);
    CHECK(prog.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_LOCAL) == 1);
}

TEST_CASE("short and garbage frames are never redirected, and are counted", "[bpf]") {
    FromPod prog;
    // BPF_PROG_TEST_RUN (6.18) refuses frames of ETH_HLEN bytes or less, and IPv4-typed
    // frames shorter than an IPv4 header, so truncated IPv4 cannot be fed from here.
    const Bytes eth_only_arp = hex("ffffffffffff 020000000102 0806 00");
    const Bytes truncated_arp = Bytes(kArpForGateway.begin(), kArpForGateway.begin() + 14 + 27);
    const Bytes ip_version_6 = with_byte(kPingAToB, 14, 0x65);
    const Bytes ip_ihl_3 = with_byte(kPingAToB, 14, 0x43);
    const Bytes arp_for_ipv6 = with_byte(kArpForGateway, 14 + 5, 0x10);
    for (const Bytes* in :
         {&eth_only_arp, &truncated_arp, &ip_version_6, &ip_ihl_3, &arp_for_ipv6}) {
        INFO("frame of " << in->size() << " bytes");
        RunResult r = prog.run(*in);
        CHECK(r.retval == kTcActShot);
    }
    CHECK(prog.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_MALFORMED) == 5);

    const Bytes garbage =
        hex("a1b2c3d4e5f6 0718293a4b5c 1234 deadbeef00112233445566778899aabbccddeeff");
    Bytes ipv6_ethertype = with_byte(with_byte(kPingAToB, 12, 0x86), 13, 0xdd);
    ipv6_ethertype.resize(14 + 40 + 8);  // test-run wants a whole IPv6 header
    for (const Bytes* in : std::initializer_list<const Bytes*>{&garbage, &ipv6_ethertype}) {
        RunResult r = prog.run(*in);
        CHECK(r.retval == kTcActOk);
        CHECK(r.out == *in);
    }
    CHECK(prog.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NON_IP) == 2);
    CHECK(prog.total_redirects() == 0);
}

TEST_CASE("drops are reported on the events ring buffer with their reason", "[bpf]") {
    FromPod prog;
    std::vector<shuttle_event> seen;
    auto on_event = [](void* ctx, void* data, size_t size) -> int {
        auto* out = static_cast<std::vector<shuttle_event>*>(ctx);
        if (size >= sizeof(shuttle_event)) {
            out->push_back(*static_cast<shuttle_event*>(data));
        }
        return 0;
    };
    ring_buffer* rb =
        ring_buffer__new(bpf_map__fd(prog.skel()->maps.events), on_event, &seen, nullptr);
    REQUIRE(rb);
    prog.run(with_ttl(kPingAToB, 1));
    prog.run(kPingOutside);  // a pass: no event
    ring_buffer__consume(rb);
    ring_buffer__free(rb);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].type == SHUTTLE_EVENT_DROP);
    CHECK(seen[0].stat_key == SHUTTLE_STAT_KEY(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_TTL_EXPIRED));
    CHECK(seen[0].saddr == ip("10.244.1.2"));
    CHECK(seen[0].daddr == ip("10.244.1.3"));
    CHECK(seen[0].ttl == 1);
    CHECK(seen[0].ifindex == kSenderIfindex);
}

// The stack delivering pod B's packet to pod A (to_pod on A's host veth), e.g. the DNATed
// request of a Service whose backend is A.
const Bytes kStackDeliversBToA =
    hex("020000000102 020000000a02 0800"
        "4500002012344000400110bd0af401030af40102 080018b70077000170696e67");

TEST_CASE("to_pod remembers pairs the stack delivers; their replies take the stack path", "[bpf]") {
    FromPod prog;
    int to_pod = bpf_program__fd(prog.skel()->progs.to_pod);
    RunResult delivered = prog.run_prog(to_pod, kStackDeliversBToA);
    CHECK(delivered.retval == kTcActOk);
    CHECK(delivered.out == kStackDeliversBToA);

    RunResult reply = prog.run(kPingAToB);  // A answers B: conntrack must see it
    CHECK(reply.retval == kTcActOk);
    CHECK(reply.out == kPingAToB);
    CHECK(prog.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NAT_FLOW) == 1);
    CHECK(prog.total_redirects() == 0);
}

TEST_CASE("to_pod ignores packets from the gateway and from outside the cluster", "[bpf]") {
    FromPod prog;
    int to_pod = bpf_program__fd(prog.skel()->progs.to_pod);
    CHECK(prog.run_prog(to_pod, with_source_ip(kStackDeliversBToA, "10.244.1.1")).retval ==
          kTcActOk);
    CHECK(prog.run_prog(to_pod, with_source_ip(kStackDeliversBToA, "192.168.1.3")).retval ==
          kTcActOk);
    // with_source_ip leaves the checksum stale; to_pod does not care, and nothing was kept:
    CHECK(prog.run(kPingAToB).retval == kTcActRedirect);
}

// Not a pass/fail test: prints the program's cost per packet. Run with
//   shuttle_bpf_tests "[bench]"
// Every repetition restores the pristine packet first (see bpf/from_pod_bench.bpf.c); the
// restore's own cost is measured separately and subtracted.
TEST_CASE("ns per packet for each path at 10 and 10,000 endpoints", "[.][bench]") {
    constexpr int kRepeat = 1'000'000;
    struct Path {
        const char* name;
        const Bytes* packet;
        int expected;
    } paths[] = {{"ARP reply", &kArpForGateway, kTcActRedirect},
                 {"local redirect", &kPingAToB, kTcActRedirect},
                 {"pass to stack", &kPingOutside, kTcActOk}};
    std::printf("| path | endpoints | Services check | ns/packet | ns incl. restore |\n");
    std::printf("|---|---|---|---|---|\n");
    for (bool nat_check : {true, false}) {
        for (int endpoints : {10, 10'000}) {
            Loaded<from_pod_bench_bpf> prog(nat_check);
            for (int i = 2; i < endpoints; ++i) {  // 10.244.100.2 onwards
                uint32_t addr = htonl(((10u << 24) | (244u << 16) | (100u << 8)) + i);
                prog.add_endpoint(addr, 100 + i, kPodBMac, kHostBMac);
            }
            for (const Path& path : paths) {
                auto* bss = prog.skel()->bss;
                std::memcpy(bss->bench_packet, path.packet->data(), path.packet->size());
                bss->bench_len = static_cast<uint32_t>(path.packet->size());
                uint32_t total_ns = 0;
                uint32_t restore_ns = 0;
                RunResult r = prog.run(*path.packet, kRepeat, &total_ns);
                REQUIRE(r.retval == path.expected);
                prog.run_prog(bpf_program__fd(prog.skel()->progs.restore_only), *path.packet,
                              kRepeat, &restore_ns);
                std::printf("| %s | %d | %s | %d | %u |\n", path.name, endpoints,
                            nat_check ? "on" : "off",
                            static_cast<int>(total_ns) - static_cast<int>(restore_ns), total_ns);
            }
            // A pod that serves a Service (to_pod flagged it) pays the pair lookup.
            prog.add_endpoint(ip("10.244.1.2"), kSenderIfindex, kPodAMac, kHostAMac,
                              SHUTTLE_EP_F_NAT_PEERS);
            std::memcpy(prog.skel()->bss->bench_packet, kPingAToB.data(), kPingAToB.size());
            prog.skel()->bss->bench_len = static_cast<uint32_t>(kPingAToB.size());
            uint32_t total_ns = 0;
            uint32_t restore_ns = 0;
            REQUIRE(prog.run(kPingAToB, kRepeat, &total_ns).retval == kTcActRedirect);
            prog.run_prog(bpf_program__fd(prog.skel()->progs.restore_only), kPingAToB, kRepeat,
                          &restore_ns);
            std::printf("| local redirect, sender serves a Service | %d | %s | %d | %u |\n",
                        endpoints, nat_check ? "on" : "off",
                        static_cast<int>(total_ns) - static_cast<int>(restore_ns), total_ns);
        }
    }
}

// Not a pass/fail test: where from_pod's time goes, piece by piece (restore subtracted).
TEST_CASE("profile of from_pod's pieces", "[.][bench]") {
    constexpr int kRepeat = 1'000'000;
    Loaded<from_pod_bench_bpf> prog;
    for (int i = 2; i < 10'000; ++i) {
        uint32_t addr = htonl(((10u << 24) | (244u << 16) | (100u << 8)) + i);
        prog.add_endpoint(addr, 100 + i, kPodBMac, kHostBMac);
    }
    auto* skel = prog.skel();
    std::memcpy(skel->bss->bench_packet, kPingAToB.data(), kPingAToB.size());
    skel->bss->bench_len = static_cast<uint32_t>(kPingAToB.size());
    auto ns_of = [&](bpf_program* p) {
        uint32_t ns = 0;
        prog.run_prog(bpf_program__fd(p), kPingAToB, kRepeat, &ns);
        return static_cast<int>(ns);
    };
    int restore = ns_of(skel->progs.restore_only);
    struct Piece {
        const char* name;
        bpf_program* prog;
    } pieces[] = {{"stats counter (per-CPU array)", skel->progs.piece_count},
                  {"node_config lookup (array)", skel->progs.piece_config_lookup},
                  {"config + endpoint lookup (array, 10k pods)", skel->progs.piece_endpoint_lookup},
                  {"nat_pairs lookup miss (LRU hash)", skel->progs.piece_nat_lookup},
                  {"bpf_redirect_peer", skel->progs.piece_redirect_peer},
                  {"whole local redirect", skel->progs.restore_then_from_pod}};
    std::printf("| piece | ns/packet |\n|---|---|\n| (test-run loop + restore) | %d |\n", restore);
    for (const Piece& piece : pieces) {
        std::printf("| %s | %d |\n", piece.name, ns_of(piece.prog) - restore);
    }
}
