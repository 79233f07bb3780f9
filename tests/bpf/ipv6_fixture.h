#pragma once
// The IPv6 half of a test node (bpf_fixture.h's Loaded): node_config6 and IPv6 endpoints,
// and an independent ICMPv6 checksum to verify what the program wrote.
#include <arpa/inet.h>

#include "bpf_fixture.h"

namespace bpf_fixture {

// Pods A (fd00:10:244:1::2, ifindex 1) and B (::3, ifindex 42) of bpf_fixture.h, gateway
// fd00:10:244:1::1, node subnet fd00:10:244:1::/64, cluster fd00:10:244::/56.
inline shuttle_ip6 ip6(const char* text) {
    shuttle_ip6 a{};
    REQUIRE(inet_pton(AF_INET6, text, a.addr) == 1);
    return a;
}

template <class Skel>
void set_config6(Loaded<Skel>& node, const char* subnet = "fd00:10:244:1::", uint32_t len = 64,
                 const char* gateway = "fd00:10:244:1::1",
                 const char* cluster = "fd00:10:244::", uint32_t cluster_len = 56) {
    shuttle_config6 cfg{};
    cfg.layout_version = SHUTTLE_LAYOUT_VERSION;
    std::memcpy(cfg.node_subnet, ip6(subnet).addr, 16);
    cfg.node_subnet_len = len;
    std::memcpy(cfg.gateway, ip6(gateway).addr, 16);
    std::memcpy(cfg.cluster_network, ip6(cluster).addr, 16);
    cfg.cluster_len = cluster_len;
    uint32_t zero = 0;
    REQUIRE(bpf_map_update_elem(bpf_map__fd(node.skel()->maps.node_config6), &zero, &cfg, 0) == 0);
}

// Into the slot array when the address shares the subnet's first 112 bits (as the datapath
// module decides), else the hash.
template <class Skel>
void add_endpoint6(Loaded<Skel>& node, const char* address, uint32_t ifindex, const char* pod_mac,
                   const char* host_mac, uint32_t flags = 0,
                   const char* subnet = "fd00:10:244:1::") {
    shuttle_endpoint6 ep{};
    shuttle_ip6 key = ip6(address);
    ep.ifindex = ifindex;
    ep.flags = flags;
    std::memcpy(ep.pod_ip, key.addr, 16);
    set_mac(ep.pod_mac, pod_mac);
    set_mac(ep.host_mac, host_mac);
    if (std::memcmp(key.addr, ip6(subnet).addr, 14) == 0) {
        uint32_t slot = (uint32_t{key.addr[14]} << 8) | key.addr[15];
        REQUIRE(bpf_map_update_elem(bpf_map__fd(node.skel()->maps.endpoints6), &slot, &ep, 0) == 0);
    } else {
        REQUIRE(bpf_map_update_elem(bpf_map__fd(node.skel()->maps.endpoints6_hash), &key, &ep, 0) ==
                0);
    }
}

// A node with pods A and B of both families.
template <class Skel>
void add_ipv6_pods(Loaded<Skel>& node) {
    set_config6(node);
    add_endpoint6(node, "fd00:10:244:1::2", kSenderIfindex, kPodAMac, kHostAMac);
    add_endpoint6(node, "fd00:10:244:1::3", kPeerIfindex, kPodBMac, kHostBMac);
}

// The one's complement sum of an IPv6 frame's ICMPv6 message with its pseudo-header, byte by
// byte (RFC 4443 2.3): 0xffff when the stored checksum is right. No extension headers.
inline uint16_t icmpv6_checksum_sum(const Bytes& frame) {
    REQUIRE(frame.size() >= 54);
    size_t length = (size_t{frame[18]} << 8) | frame[19];
    REQUIRE(frame.size() >= 54 + length);
    uint32_t sum = 0;
    auto add = [&](const uint8_t* p, size_t n) {
        for (size_t i = 0; i < n; i += 2) {
            sum += (uint32_t{p[i]} << 8) | (i + 1 < n ? p[i + 1] : 0);
        }
    };
    add(&frame[22], 32);  // source and destination
    sum += static_cast<uint32_t>(length);
    sum += 58;
    add(&frame[54], length);
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<uint16_t>(sum);
}

}  // namespace bpf_fixture
