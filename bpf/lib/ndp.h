/* Neighbour solicitations answered in the program, as arp.h answers ARP: the pods' IPv6
 * gateway and every cluster address resolve to the host veth's MAC (RFC 4861). */
#ifndef SHUTTLE_LIB_NDP_H
#define SHUTTLE_LIB_NDP_H

#include "lib/ipv6.h"

#define NDP_HOP_LIMIT 255 /* every NDP message; anything else came from off-link */
#define NDP_OPT_TARGET_LLADDR 2
#define NA_FLAG_ROUTER 0x80000000u
#define NA_FLAG_SOLICITED 0x40000000u
#define NA_FLAG_OVERRIDE 0x20000000u

/* A neighbour solicitation or advertisement body (after the ICMPv6 type/code/checksum). */
struct ndp_msg {
    __u8 type;
    __u8 code;
    __be16 checksum;
    __be32 flags; /* reserved in an NS */
    __u8 target[16];
} __attribute__((packed));

/* The whole answer: an NA with the target link-layer address option, 86 bytes. */
#define NA_OFFSET (ETH_HLEN + IPV6_HLEN)
#define NA_OPTION_OFFSET (NA_OFFSET + 24)
#define NA_PAYLOAD_LEN 32 /* the NA and its option */
#define NA_FRAME_LEN (NA_OFFSET + NA_PAYLOAD_LEN)

/* The solicitation at `upper`, or NULL when truncated or not a valid NS (RFC 4861 7.1.1:
 * hop limit 255, code 0, a target that is not multicast). */
static __always_inline struct ndp_msg* parse_ns(const struct packet* pkt, const struct ipv6hdr* ip6,
                                                const struct ipv6_upper* upper) {
    struct ndp_msg* ns = packet_at(pkt, upper->offset & 0x7FF, sizeof(struct ndp_msg));

    if (!ns || ip6->hop_limit != NDP_HOP_LIMIT || ns->code != 0 || ipv6_is_multicast(ns->target))
        return NULL;
    return ns;
}

/* Does this node answer a pod's solicitation (from `source`, its own address) for `target`?
 * The gateway and the cluster network, never the asking pod's own address. */
static __always_inline int ns_should_answer(const void* target, const void* source,
                                            const struct shuttle_config6* cfg) {
    if (ipv6_equal(target, source))
        return 0;
    return ipv6_equal(target, cfg->gateway) ||
           ipv6_in_prefix(target, cfg->cluster_network, cfg->cluster_len);
}

/* The ICMPv6 checksum of the NA in `frame` (pseudo-header: addresses, length 32, protocol 58),
 * as a one's complement sum of native 32-bit words folded to 16 bits (RFC 1071: the same
 * bytes whatever the byte order, stored as loaded). */
static __always_inline __u16 na_checksum(const __u8* frame) {
    const __u32* addresses = (const __u32*)(frame + ETH_HLEN + 8);
    const __u32* message = (const __u32*)(frame + NA_OFFSET);
    __u64 sum = bpf_htonl(NA_PAYLOAD_LEN) + bpf_htonl(NEXTHDR_ICMPV6);

#pragma unroll
    for (int i = 0; i < 8; i++)
        sum += addresses[i] + (__u64)message[i];
    sum = (sum & 0xFFFFFFFF) + (sum >> 32);
    sum = (sum & 0xFFFFFFFF) + (sum >> 32);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    return (__u16)~sum;
}

/* Turns the packet into the NA answering a solicitation for `target` from `solicitor`
 * (IPv6 and MAC): from `answer_mac`, solicited, override, and router (the host routes for
 * every address it answers). Resizes to the NA's 86 bytes. 0, or -1 when the packet could
 * not be resized (the caller passes the NS to the stack). */
static __always_inline int ns_make_advert(struct __sk_buff* skb, const void* target_in,
                                          const void* solicitor_in, const __u8* solicitor_mac,
                                          const __u8* answer_mac) {
    struct shuttle_ip6 target, solicitor;
    __u8 to_mac[ETH_ALEN], from_mac[ETH_ALEN];
    struct ipv6hdr* ip6;
    struct ndp_msg* na;
    struct packet pkt;
    __u8* frame;

    /* copies: the resize invalidates every packet pointer */
    ipv6_copy(target.addr, target_in);
    ipv6_copy(solicitor.addr, solicitor_in);
    mac_copy(to_mac, solicitor_mac);
    mac_copy(from_mac, answer_mac);
    if (skb->len != NA_FRAME_LEN && bpf_skb_change_tail(skb, NA_FRAME_LEN, 0) != 0)
        return -1;
    pkt = packet_of(skb);
    frame = packet_at(&pkt, 0, NA_FRAME_LEN);
    if (!frame)
        return -1;
    set_macs((struct ethhdr*)frame, to_mac, from_mac);
    ((struct ethhdr*)frame)->h_proto = bpf_htons(ETH_P_IPV6);
    ip6 = (struct ipv6hdr*)(frame + ETH_HLEN);
    *(__be32*)ip6 = bpf_htonl(0x60000000); /* version 6, no traffic class or flow label */
    ip6->payload_len = bpf_htons(NA_PAYLOAD_LEN);
    ip6->nexthdr = NEXTHDR_ICMPV6;
    ip6->hop_limit = NDP_HOP_LIMIT;
    ipv6_copy(&ip6->saddr, target.addr);
    ipv6_copy(&ip6->daddr, solicitor.addr);
    na = (struct ndp_msg*)(frame + NA_OFFSET);
    na->type = ICMPV6_NEIGH_ADVERT;
    na->code = 0;
    na->checksum = 0;
    na->flags = bpf_htonl(NA_FLAG_ROUTER | NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE);
    ipv6_copy(na->target, target.addr);
    frame[NA_OPTION_OFFSET] = NDP_OPT_TARGET_LLADDR;
    frame[NA_OPTION_OFFSET + 1] = 1; /* length in units of 8 bytes */
    mac_copy(frame + NA_OPTION_OFFSET + 2, from_mac);
    na->checksum = na_checksum(frame);
    return 0;
}

#endif
