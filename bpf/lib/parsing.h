/* Bounds-checked header access for direct packet access in tc programs. */
#ifndef SHUTTLE_LIB_PARSING_H
#define SHUTTLE_LIB_PARSING_H

#include <bpf/bpf_endian.h>

#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7

/* The data/data_end window of one skb. */
struct packet {
    void* data;
    void* data_end;
};

static __always_inline struct packet packet_of(struct __sk_buff* skb) {
    struct packet pkt = {
        .data = (void*)(long)skb->data,
        .data_end = (void*)(long)skb->data_end,
    };
    return pkt;
}

/* A pointer to `len` bytes at `offset`, or NULL when the packet is shorter. */
static __always_inline void* packet_at(const struct packet* pkt, __u32 offset, __u32 len) {
    void* start = pkt->data + offset;

    if (start + len > pkt->data_end)
        return NULL;
    return start;
}

static __always_inline struct ethhdr* parse_eth(const struct packet* pkt) {
    return packet_at(pkt, 0, sizeof(struct ethhdr));
}

/* The IPv4 header after the Ethernet header, or NULL when truncated or invalid. */
static __always_inline struct iphdr* parse_ipv4(const struct packet* pkt) {
    struct iphdr* iph = packet_at(pkt, ETH_HLEN, sizeof(struct iphdr));

    if (!iph || iph->version != 4 || iph->ihl < 5)
        return NULL;
    return iph;
}

static __always_inline int mac_equal(const __u8* a, const __u8* b) {
    return *(const __u32*)a == *(const __u32*)b && *(const __u16*)(a + 4) == *(const __u16*)(b + 4);
}

static __always_inline void mac_copy(__u8* dst, const __u8* src) {
    *(__u32*)dst = *(const __u32*)src;
    *(__u16*)(dst + 4) = *(const __u16*)(src + 4);
}

/* Is `addr` inside network/len? len 0 (unset) matches nothing. */
static __always_inline int in_prefix(__be32 addr, __be32 network, __u32 len) {
    __be32 mask;

    if (len == 0 || len > 32)
        return 0;
    mask = bpf_htonl(0xFFFFFFFFu << (32 - len));
    return (addr & mask) == (network & mask);
}

#endif
