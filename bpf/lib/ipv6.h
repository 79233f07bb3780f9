/* IPv6 headers and addresses for the pod programs. Addresses are 16 bytes in network order,
 * read as four 32-bit words (the JIT allows the unaligned loads, as mac_equal's). */
#ifndef SHUTTLE_LIB_IPV6_H
#define SHUTTLE_LIB_IPV6_H

#include "lib/parsing.h"

#define ETH_P_IPV6 0x86DD
#define IPV6_HLEN 40
#define NEXTHDR_HOP 0
#define NEXTHDR_ICMPV6 58

/* ICMPv6 types (RFC 4443, 4861, 2710, 3810) */
#define ICMPV6_ERROR_MAX 127
#define ICMPV6_MLD_QUERY 130
#define ICMPV6_MLD_REPORT 131
#define ICMPV6_MLD_DONE 132
#define ICMPV6_ROUTER_SOLICIT 133
#define ICMPV6_ROUTER_ADVERT 134
#define ICMPV6_NEIGH_SOLICIT 135
#define ICMPV6_NEIGH_ADVERT 136
#define ICMPV6_REDIRECT 137
#define ICMPV6_MLD2_REPORT 143

/* The IPv6 header after the Ethernet header, or NULL when truncated or not version 6. */
static __always_inline struct ipv6hdr* parse_ipv6(const struct packet* pkt) {
    struct ipv6hdr* ip6 = packet_at(pkt, ETH_HLEN, sizeof(struct ipv6hdr));

    if (!ip6 || ip6->version != 6)
        return NULL;
    return ip6;
}

static __always_inline int ipv6_equal(const void* a, const void* b) {
    const __u32* x = a;
    const __u32* y = b;

    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

static __always_inline void ipv6_copy(void* dst, const void* src) {
    __u32* d = dst;
    const __u32* s = src;

    d[0] = s[0];
    d[1] = s[1];
    d[2] = s[2];
    d[3] = s[3];
}

static __always_inline int ipv6_is_unspecified(const void* addr) {
    const __u32* a = addr;

    return (a[0] | a[1] | a[2] | a[3]) == 0;
}

/* fe80::/10 */
static __always_inline int ipv6_is_link_local(const void* addr) {
    const __u8* a = addr;

    return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static __always_inline int ipv6_is_multicast(const void* addr) {
    return ((const __u8*)addr)[0] == 0xff;
}

/* The network-order mask of word `word` (0..3) of a /len prefix. */
static __always_inline __u32 ipv6_word_mask(__u32 len, __u32 word) {
    __u32 bits = len > word * 32 ? len - word * 32 : 0;

    if (bits == 0)
        return 0;
    if (bits >= 32)
        return 0xFFFFFFFFu;
    return bpf_htonl(0xFFFFFFFFu << (32 - bits));
}

/* Is `addr` inside network/len? len 0 (unset) matches nothing. */
static __always_inline int ipv6_in_prefix(const void* addr, const void* network, __u32 len) {
    const __u32* a = addr;
    const __u32* n = network;
    __u32 diff = 0;

    if (len == 0 || len > 128)
        return 0;
#pragma unroll
    for (int i = 0; i < 4; i++)
        diff |= (a[i] ^ n[i]) & ipv6_word_mask(len, i);
    return diff == 0;
}

/* What follows the IPv6 header, after at most one hop-by-hop options header (MLD carries
 * one for its router alert): the protocol and the ICMPv6 type when it is ICMPv6. */
struct ipv6_upper {
    __u8 protocol;
    __u8 icmp_type; /* valid when protocol is NEXTHDR_ICMPV6 */
    __u16 offset;   /* of the upper-layer header from the frame's start */
};

/* 0, or -1 when a header the packet announces is truncated. */
static __always_inline int ipv6_upper_of(const struct packet* pkt, const struct ipv6hdr* ip6,
                                         struct ipv6_upper* upper) {
    __u32 offset = ETH_HLEN + IPV6_HLEN;
    __u8 protocol = ip6->nexthdr;
    __u8* header;

    if (protocol == NEXTHDR_HOP) {
        header = packet_at(pkt, offset, 2);
        if (!header)
            return -1;
        protocol = header[0];
        offset += ((__u32)header[1] + 1) * 8;
    }
    if (offset > 1024)
        return -1; /* options no pod sends; bounds the offset for the verifier */
    upper->protocol = protocol;
    upper->offset = offset;
    upper->icmp_type = 0;
    if (protocol == NEXTHDR_ICMPV6) {
        header = packet_at(pkt, offset & 0x7FF, 4);
        if (!header)
            return -1;
        upper->icmp_type = header[0];
    }
    return 0;
}

/* Neighbour and router discovery (RS, RA, NS, NA, redirect). */
static __always_inline int icmpv6_is_ndp(__u8 type) {
    return type >= ICMPV6_ROUTER_SOLICIT && type <= ICMPV6_REDIRECT;
}

static __always_inline int icmpv6_is_mld(__u8 type) {
    return (type >= ICMPV6_MLD_QUERY && type <= ICMPV6_MLD_DONE) || type == ICMPV6_MLD2_REPORT;
}

/* The ICMPv6 the host stack must see rather than a pod: errors and MLD. */
static __always_inline int icmpv6_for_stack(__u8 type) {
    return type <= ICMPV6_ERROR_MAX || icmpv6_is_mld(type);
}

/* Ethernet header of a packet handed over on a link: to `dst`, from `src`. */
static __always_inline void set_macs(struct ethhdr* eth, const __u8* dst, const __u8* src) {
    mac_copy(eth->h_dest, dst);
    mac_copy(eth->h_source, src);
}

#endif
