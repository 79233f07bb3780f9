/* VXLAN in the programs themselves (the direct overlay): the outer headers from_pod pushes,
 * byte for byte what Linux's VXLAN device sends for a flannel peer, and the checks from_underlay
 * makes before it strips them. docs/ARCHITECTURE.md ("Direct overlay") has the kernel facts. */
#ifndef SHUTTLE_LIB_VXLAN_H
#define SHUTTLE_LIB_VXLAN_H

#include "lib/l3.h"
#include "lib/maps.h"
#include "lib/parsing.h"
#include "lib/stats.h"

#define IP_MF_OFFSET_MASK 0x3FFF       /* frag_off: more-fragments bit and offset */
#define IP_FRAGMENT_OFFSET_MASK 0x1FFF /* frag_off: the offset alone (non-zero: not the first) */
#define VXLAN_FLAG_VNI 0x08000000u

/* Outer IPv4 (no options) + UDP + VXLAN + inner Ethernet: what the encapsulation adds. */
#define VXLAN_ENCAP_LEN 50
#define VXLAN_OUTER_IP_OFF ETH_HLEN
#define VXLAN_UDP_OFF (VXLAN_OUTER_IP_OFF + 20)
#define VXLAN_HDR_OFF (VXLAN_UDP_OFF + 8)
#define VXLAN_INNER_ETH_OFF (VXLAN_HDR_OFF + 8)
#define VXLAN_INNER_IP_OFF (VXLAN_INNER_ETH_OFF + ETH_HLEN)

/* The source-port range of a VXLAN device created without one (flannel's): the netns's
 * ip_local_port_range, whose default this is. The kernel's formula never reaches the top. */
#define VXLAN_SPORT_MIN 32768u
#define VXLAN_SPORT_MAX 60999u
#define VXLAN_OUTER_TTL 64 /* ip4_dst_hoplimit() for a device without ttl: ip_default_ttl */

#define INET_ECN_MASK 3
#define INET_ECN_ECT_0 2
#define INET_ECN_CE 3

struct vxlan_header {
    __be32 flags; /* VXLAN_FLAG_VNI, the rest reserved (0) */
    __be32 vni;   /* VNI << 8 */
};

/* Everything between the outer Ethernet header and the inner IPv4 header. Not packed, so the
 * compiler writes whole words (x86 takes the unaligned packet stores; packed cost ~10 ns of
 * byte stores); the struct's tail padding is never written. */
struct vxlan_encap {
    struct iphdr ip;
    struct udphdr udp;
    struct vxlan_header vxlan;
    struct ethhdr inner_eth;
};

_Static_assert(__builtin_offsetof(struct vxlan_encap, inner_eth) + sizeof(struct ethhdr) ==
                   VXLAN_ENCAP_LEN,
               "VXLAN encapsulation is 50 bytes");

static __always_inline __be16 vxlan_port_of(const struct shuttle_config* cfg) {
    return cfg->vxlan_port ? cfg->vxlan_port : bpf_htons(SHUTTLE_VXLAN_DEFAULT_PORT);
}

/* udp_flow_src_port(): the flow hash, folded so its upper half is mixed, scaled into the
 * range. The same flow gets the same port as from the kernel's device. */
static __always_inline __be16 vxlan_source_port(__u32 hash) {
    hash ^= hash << 16;
    return bpf_htons(
        (__u16)((((__u64)hash * (VXLAN_SPORT_MAX - VXLAN_SPORT_MIN)) >> 32) + VXLAN_SPORT_MIN));
}

/* INET_ECN_encapsulate() with an outer TOS of 0: the inner ECN bits, CE as ECT(0). */
static __always_inline __u8 vxlan_outer_tos(__u8 inner_tos) {
    __u8 ecn = inner_tos & INET_ECN_MASK;

    return ecn == INET_ECN_CE ? INET_ECN_ECT_0 : ecn;
}

/* The outer IPv4 checksum from the values written, without reading the header back: a
 * one's-complement sum is the same over the words in memory order whatever the host order. */
static __always_inline __sum16 outer_ip_checksum(__be16 ver_tos, __be16 tot_len, __be16 id,
                                                 __be32 saddr, __be32 daddr) {
    __u32 sum = (__u32)ver_tos + tot_len + id + bpf_htons((VXLAN_OUTER_TTL << 8) | IPPROTO_UDP) +
                (saddr & 0xFFFF) + (saddr >> 16) + (daddr & 0xFFFF) + (daddr >> 16);

    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    return (__sum16)~sum;
}

/* The 50 bytes from_pod writes after the outer Ethernet header. `ip_len` is the outer IPv4
 * length (a GSO packet's whole length: segmentation rewrites it per segment). The outer IP
 * ID is random: with DF unset (the device's default) it must vary, and the device's
 * per-destination counter cannot be read from here. */
static __always_inline void vxlan_fill(struct vxlan_encap* h, __u16 ip_len, __u8 inner_tos,
                                       __u32 flow_hash, const struct shuttle_route* route,
                                       const struct shuttle_config* cfg) {
    __be16 ver_tos = bpf_htons(0x4500 | vxlan_outer_tos(inner_tos));
    __be16 id = (__be16)bpf_get_prandom_u32();
    __be16 tot_len = bpf_htons(ip_len);
    __be32 saddr = cfg->underlay_ip, daddr = route->underlay_ip;

    *(__be16*)&h->ip = ver_tos; /* version, IHL 5, TOS */
    h->ip.tot_len = tot_len;
    h->ip.id = id;
    h->ip.frag_off = 0;
    h->ip.ttl = VXLAN_OUTER_TTL;
    h->ip.protocol = IPPROTO_UDP;
    h->ip.check = outer_ip_checksum(ver_tos, tot_len, id, saddr, daddr);
    h->ip.saddr = saddr;
    h->ip.daddr = daddr;

    h->udp.source = vxlan_source_port(flow_hash);
    h->udp.dest = vxlan_port_of(cfg);
    h->udp.len = bpf_htons(ip_len - sizeof(struct iphdr));
    h->udp.check = 0; /* the device's default for IPv4 (udpcsum off) */

    h->vxlan.flags = bpf_htonl(VXLAN_FLAG_VNI);
    h->vxlan.vni = bpf_htonl(route->vni << 8);

    mac_copy(h->inner_eth.h_dest, route->vtep_mac);
    mac_copy(h->inner_eth.h_source, cfg->vtep_mac);
    h->inner_eth.h_proto = bpf_htons(ETH_P_IP);
}

/* The grown packet needs the VXLAN header room inserted after the MAC header, marked as a
 * UDP tunnel with an inner Ethernet header so GSO/TSO segment it as the device's packets
 * (SKB_GSO_UDP_TUNNEL, inner offsets, inner protocol ETH_P_TEB), keeping gso_size: the pod's
 * MTU already leaves room for the 50 bytes (checked below). */
#define ADJ_ROOM_ENCAP_L2(len) \
    (((__u64)(len)&BPF_ADJ_ROOM_ENCAP_L2_MASK) << BPF_ADJ_ROOM_ENCAP_L2_SHIFT)
#define VXLAN_ENCAP_FLAGS                                                                    \
    (BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP | \
     BPF_F_ADJ_ROOM_ENCAP_L2_ETH | ADJ_ROOM_ENCAP_L2(ETH_HLEN))

/* Load-time constant, always VXLAN_ENCAP_FLAGS in the product. Only the benchmark's probes
 * load it without the ENCAP bits: test-run reuses one skb, and skb->encapsulation, once set,
 * makes every later grow fail (-EALREADY) and nothing from BPF clears it. Weak, as the maps. */
const volatile __u64 vxlan_room_flags __weak = VXLAN_ENCAP_FLAGS;

static __always_inline int direct_overlay(const struct shuttle_config* cfg) {
    return (cfg->flags & SHUTTLE_CONFIG_F_DIRECT_OVERLAY) && cfg->underlay_ifindex != 0 &&
           cfg->underlay_ip != 0;
}

/* Does every segment of a GSO packet still fit `mtu` once encapsulated? Only TCP and UDP
 * segments are sized here; anything else takes the device path. */
static __always_inline int gso_segments_fit(struct __sk_buff* skb, const struct iphdr* iph,
                                            __u32 mtu) {
    struct packet pkt = packet_of(skb);
    __u32 l3_len = iph->ihl * 4, l4_len;
    struct tcphdr* tcp;

    if (iph->protocol == IPPROTO_TCP) {
        tcp = packet_at(&pkt, ETH_HLEN + (l3_len & 0x3C), sizeof(struct tcphdr));
        if (!tcp)
            return 0;
        l4_len = tcp->doff * 4;
    } else if (iph->protocol == IPPROTO_UDP) {
        l4_len = sizeof(struct udphdr);
    } else {
        return 0;
    }
    return skb->gso_size + l3_len + l4_len + VXLAN_ENCAP_LEN <= mtu;
}

/* May this packet leave encapsulated by us? No when it would not fit the underlay's MTU
 * (the device path answers that, with ICMP for DF packets) or the helper refuses. */
static __always_inline int fits_underlay(struct __sk_buff* skb, const struct iphdr* iph,
                                         const struct shuttle_config* cfg) {
    __u32 mtu = 0; /* in: 0 = use skb->len; out: the underlay's MTU */

    if (skb->len - ETH_HLEN + VXLAN_ENCAP_LEN > 0xFFFF)
        return 0; /* no outer tot_len for it (BIG TCP) */
    if (bpf_check_mtu(skb, cfg->underlay_ifindex, &mtu, VXLAN_ENCAP_LEN, 0) != 0)
        return 0;
    return skb->gso_size == 0 || gso_segments_fit(skb, iph, mtu);
}

/* from_pod's direct path: outer headers pushed here, to the underlay through the kernel's
 * neighbour table (bpf_redirect_neigh fills both MACs). A negative result: not taken, the
 * packet is unchanged and the device path must handle it. */
static __always_inline int encapsulate_direct(struct __sk_buff* skb, struct iphdr* iph,
                                              const struct shuttle_route* route,
                                              const struct shuttle_config* cfg) {
    struct vxlan_encap* h;
    struct iphdr* inner;
    struct packet pkt;
    __u32 flow_hash;
    __u8 inner_tos;

    if (!fits_underlay(skb, iph, cfg))
        return -1;
    inner_tos = iph->tos;
    flow_hash = bpf_get_hash_recalc(skb); /* of the inner packet, as the device hashes it */
    if (bpf_skb_adjust_room(skb, VXLAN_ENCAP_LEN, BPF_ADJ_ROOM_MAC, vxlan_room_flags) != 0)
        return -1; /* e.g. already encapsulated (-EALREADY): the device copes */

    pkt = packet_of(skb);
    h = packet_at(&pkt, ETH_HLEN, VXLAN_ENCAP_LEN + sizeof(struct iphdr));
    if (!h)
        return drop(skb, SHUTTLE_DROP_REDIRECT_FAILED);
    inner = (void*)h + VXLAN_ENCAP_LEN;
    ipv4_decrease_ttl(inner);
    vxlan_fill(h, skb->len - ETH_HLEN, inner_tos, flow_hash, route, cfg);
    forwarded(skb, SHUTTLE_REDIRECT_ENCAP_DIRECT, cfg);
    return bpf_redirect_neigh(cfg->underlay_ifindex, NULL, 0, 0);
}

/* ---- receive side ----------------------------------------------------------------------- */

/* What from_underlay knows about a VXLAN frame for this node before it strips anything. */
struct vxlan_frame {
    struct vxlan_header* vxlan;
    struct ethhdr* inner_eth;
    struct iphdr* inner;
};

/* The verdicts of the outer parse. */
enum vxlan_parse {
    VXLAN_OK = 0,
    VXLAN_NOT_OURS,  /* not VXLAN to this node: untouched, one parse */
    VXLAN_TO_DEVICE, /* VXLAN to this node the direct path does not take */
};

/* An IPv4 UDP packet (the outer header), or NULL: the part of the one parse every underlay
 * packet pays before the node config is even looked up. */
static __always_inline struct iphdr* udp_ipv4_of(const struct packet* pkt) {
    struct ethhdr* eth = packet_at(pkt, 0, sizeof(struct ethhdr));
    struct iphdr* iph;

    if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
        return NULL;
    iph = packet_at(pkt, ETH_HLEN, sizeof(struct iphdr));
    if (!iph || iph->protocol != IPPROTO_UDP || iph->version != 4)
        return NULL;
    return iph;
}

/* Is this UDP packet VXLAN to this node (our underlay address, our port)? Fragments and
 * options of UDP to our address go to the device: the stack reassembles, and an option-carrying
 * header would need a variable offset. */
static __always_inline enum vxlan_parse vxlan_outer(const struct packet* pkt, struct iphdr* iph,
                                                    const struct shuttle_config* cfg) {
    struct udphdr* udp;

    if (iph->daddr != cfg->underlay_ip || cfg->underlay_ip == 0)
        return VXLAN_NOT_OURS;
    if (iph->ihl != 5 || (iph->frag_off & bpf_htons(IP_MF_OFFSET_MASK)))
        return VXLAN_TO_DEVICE;
    udp = packet_at(pkt, VXLAN_UDP_OFF, sizeof(struct udphdr));
    if (!udp)
        return VXLAN_TO_DEVICE; /* a truncated UDP header for us: the stack drops it */
    return udp->dest == vxlan_port_of(cfg) ? VXLAN_OK : VXLAN_NOT_OURS;
}

/* The VXLAN header and the inner Ethernet/IPv4 headers, once the outer ones are ours. Flags
 * other than exactly the VNI flag (GBP, GPE, reserved bits) are the device's to judge. */
static __always_inline enum vxlan_parse vxlan_inner(const struct packet* pkt,
                                                    struct vxlan_frame* frame) {
    frame->vxlan = packet_at(pkt, VXLAN_HDR_OFF, sizeof(struct vxlan_header));
    frame->inner_eth = packet_at(pkt, VXLAN_INNER_ETH_OFF, sizeof(struct ethhdr));
    frame->inner = packet_at(pkt, VXLAN_INNER_IP_OFF, sizeof(struct iphdr));
    if (!frame->vxlan || !frame->inner_eth || !frame->inner)
        return VXLAN_TO_DEVICE;
    if (frame->vxlan->flags != bpf_htonl(VXLAN_FLAG_VNI) ||
        (frame->vxlan->vni & bpf_htonl(0xFF)) != 0 ||
        frame->inner_eth->h_proto != bpf_htons(ETH_P_IP) || frame->inner->version != 4 ||
        frame->inner->ihl < 5)
        return VXLAN_TO_DEVICE;
    return VXLAN_OK;
}

static __always_inline __u32 vxlan_vni(const struct vxlan_header* vxlan) {
    return bpf_ntohl(vxlan->vni) >> 8;
}

#endif
