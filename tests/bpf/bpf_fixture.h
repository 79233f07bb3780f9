#pragma once
// What every BPF_PROG_TEST_RUN test here shares: hex fixtures, the skeletons loaded without
// pins and filled like a node's maps, test runs and counters.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shuttle.skel.h"
#include "probes.skel.h"
#include "shuttle_abi.h"

namespace bpf_fixture {

using Bytes = std::vector<uint8_t>;

constexpr int kTcActOk = 0;
constexpr int kTcActShot = 2;
constexpr int kTcActRedirect = 7;
constexpr uint32_t kSenderIfindex = 1;  // loopback: the test-run skb's device
constexpr uint32_t kPeerIfindex = 42;

inline Bytes hex(std::string_view text) {
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

inline uint32_t ip(const char* text) {
    in_addr a{};
    inet_pton(AF_INET, text, &a);
    return a.s_addr;
}

inline void set_mac(uint8_t* dst, std::string_view text) {
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
struct SkelOps<shuttle_bpf> {
    static shuttle_bpf* open_and_load(bool nat_check, uint64_t room_flags) {
        shuttle_bpf* s = shuttle_bpf__open();
        if (s) {
            s->rodata->nat_check_enabled = nat_check;
            if (room_flags != 0) {
                s->rodata->vxlan_room_flags = room_flags;
            }
            if (shuttle_bpf__load(s) != 0) {
                shuttle_bpf__destroy(s);
                return nullptr;
            }
        }
        return s;
    }
    static void destroy(shuttle_bpf* s) { shuttle_bpf__destroy(s); }
    static int prog_fd(shuttle_bpf* s) { return bpf_program__fd(s->progs.from_pod); }
};
template <>
struct SkelOps<probes_bpf> {
    static probes_bpf* open_and_load(bool nat_check, uint64_t room_flags) {
        probes_bpf* s = probes_bpf__open();
        if (s) {
            s->rodata->nat_check_enabled = nat_check;
            if (room_flags != 0) {
                s->rodata->vxlan_room_flags = room_flags;
            }
            if (probes_bpf__load(s) != 0) {
                probes_bpf__destroy(s);
                return nullptr;
            }
        }
        return s;
    }
    static void destroy(probes_bpf* s) { probes_bpf__destroy(s); }
    static int prog_fd(probes_bpf* s) { return bpf_program__fd(s->progs.restore_then_from_pod); }
};

template <class Skel>
struct SkelDeleter {
    void operator()(Skel* s) const { SkelOps<Skel>::destroy(s); }
};

// The program loaded from skeleton `Skel` with two local pods and the node config.
template <class Skel>
class Loaded {
  public:
    // `room_flags`: the direct encapsulation's bpf_skb_adjust_room flags, 0 = the product's
    // (benchmarks drop the ENCAP bits: see vxlan_room_flags in bpf/lib/vxlan.h).
    explicit Loaded(bool nat_check = true, uint64_t room_flags = 0)
        : skel_(SkelOps<Skel>::open_and_load(nat_check, room_flags)) {
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
        node_subnet_ = cfg.node_subnet;
    }

    // The endpoints array is indexed by the address's offset in the node subnet.
    uint32_t slot_of(uint32_t addr) const { return ntohl(addr) - ntohl(node_subnet_); }

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

    // `gso_size` != 0: the skb claims to be a GSO packet of that segment size.
    RunResult run_prog(int prog_fd, const Bytes& in, int repeat = 1,
                       uint32_t* duration_ns = nullptr, uint32_t gso_size = 0) {
        RunResult result;
        result.out.resize(in.size() + 256);
        __sk_buff ctx{};
        ctx.ifindex = kSenderIfindex;
        ctx.gso_size = gso_size;
        ctx.gso_segs = gso_size ? 2 : 0;
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
    uint32_t node_subnet_ = 0;
};

// The benchmarks' measure: `packet` through from_pod (the probe restoring it before every
// repetition) `repeat` times, then the restore alone; ns/packet without and with the restore.
struct PacketCost {
    int ns = 0;
    uint32_t total_ns = 0;
};

inline PacketCost from_pod_cost(Loaded<probes_bpf>& prog, const Bytes& packet, int expected,
                                int repeat) {
    auto* bss = prog.skel()->bss;
    REQUIRE(packet.size() <= sizeof bss->bench_packet);
    std::memcpy(bss->bench_packet, packet.data(), packet.size());
    bss->bench_len = static_cast<uint32_t>(packet.size());
    PacketCost cost;
    uint32_t restore_ns = 0;
    REQUIRE(prog.run(packet, repeat, &cost.total_ns).retval == expected);
    prog.run_prog(bpf_program__fd(prog.skel()->progs.restore_only), packet, repeat, &restore_ns);
    cost.ns = static_cast<int>(cost.total_ns) - static_cast<int>(restore_ns);
    return cost;
}

inline uint16_t ipv4_checksum(const uint8_t* header) {
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) {
        sum += (header[i] << 8) | header[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<uint16_t>(sum);  // 0xffff when the stored checksum is right
}

// ICMP echo 10.244.1.2 -> 10.244.1.3, TTL 64.
const Bytes kPingAToB =
    hex("020000000a02 020000000102 0800"
        "4500002012344000400110bd0af401020af40103 080018b70077000170696e67");

inline Bytes with_byte(Bytes b, size_t offset, uint8_t value) {
    b.at(offset) = value;
    return b;
}

inline Bytes with_ttl(Bytes b, uint8_t ttl) {
    return with_byte(std::move(b), 14 + 8, ttl);
}

inline Bytes with_source_ip(Bytes b, const char* text) {
    uint32_t a = ip(text);
    std::memcpy(&b.at(14 + 12), &a, 4);
    return b;
}

}  // namespace bpf_fixture
