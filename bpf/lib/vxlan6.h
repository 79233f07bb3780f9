/* The direct overlay for IPv6 pods: from_pod pushes an IPv6 outer header, UDP, VXLAN and the
 * inner Ethernet header itself, as Linux's VXLAN device writes them for flannel's IPv6 device
 * (flannel-v6.<VNI>), including the outer UDP checksum that device requires. Only for packets
 * whose outer checksum this program can compute exactly: no GSO (the segments' checksums are
 * the device's job: SKB_GSO_UDP_TUNNEL_CSUM), no extension headers, TCP, UDP with a checksum,
 * or ICMPv6. from_underlay strips such packets for a pod of this node, the outer checksum
 * checked by the same identity. docs/ARCHITECTURE.md ("Direct overlay", IPv6) has the kernel
 * facts. */
#ifndef SHUTTLE_LIB_VXLAN6_H
#define SHUTTLE_LIB_VXLAN6_H

#include "lib/endpoints6.h"
#include "lib/ipv6.h"
#include "lib/maps.h"
#include "lib/nat.h"
#include "lib/overlay6.h"
#include "lib/stats.h"
#include "lib/vxlan.h"

/* Outer IPv6 + UDP + VXLAN + inner Ethernet. */
#define VXLAN6_ENCAP_LEN 70
#define VXLAN6_UDP_OFF (ETH_HLEN + IPV6_HLEN)
#define VXLAN6_INNER_IP_OFF (ETH_HLEN + VXLAN6_ENCAP_LEN)
#define VXLAN6_OUTER_HOP_LIMIT 64 /* ip6_dst_hoplimit(): the devconf's hop_limit, 64 */

struct vxlan6_encap {
    struct ipv6hdr ip6;
    struct udphdr udp;
    struct vxlan_header vxlan;
    struct ethhdr inner_eth;
};

_Static_assert(__builtin_offsetof(struct vxlan6_encap, inner_eth) + sizeof(struct ethhdr) ==
                   VXLAN6_ENCAP_LEN,
               "IPv6 VXLAN encapsulation is 70 bytes");

/* vxlan_room_flags (vxlan.h) with the outer IPv6 header: the same flags in the product, and
 * without the ENCAP bits for the benchmark probes. */
static __always_inline __u64 vxlan6_room_flags(void) {
    __u64 flags = vxlan_room_flags;

    if (flags & BPF_F_ADJ_ROOM_ENCAP_L3_IPV4)
        flags = (flags & ~(__u64)BPF_F_ADJ_ROOM_ENCAP_L3_IPV4) | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
    return flags;
}

/* Can this program compute the outer UDP checksum of this packet without reading its
 * payload? It can when the inner upper-layer message sums (with its checksum field, once that
 * is filled in) to the complement of its pseudo-header: true for a complete TCP, UDP or ICMPv6
 * checksum, and for a CHECKSUM_PARTIAL one (the field then holds the pseudo-header sum, and
 * whoever fills it in — the NIC, skb_checksum_help — makes it so), the identity of the
 * kernel's local checksum offload (lco_csum). Not: GSO (per-segment checksums), extension
 * headers (fragments, options: the pseudo-header's length and protocol differ), UDP without a
 * checksum (0 is no checksum in IPv6 too), trailing bytes after the IPv6 payload, other
 * protocols (SCTP's CRC). `upper` is from ipv6_upper_of. */
static __always_inline int direct6_checksummable(struct __sk_buff* skb, const struct packet* pkt,
                                                 const struct ipv6hdr* ip6,
                                                 const struct ipv6_upper* upper) {
    __u16* udp_check;

    if (skb->gso_size != 0 || upper->offset != ETH_HLEN + IPV6_HLEN ||
        skb->len != ETH_HLEN + IPV6_HLEN + bpf_ntohs(ip6->payload_len))
        return 0;
    if (upper->protocol == IPPROTO_TCP || upper->protocol == NEXTHDR_ICMPV6)
        return 1;
    if (upper->protocol != IPPROTO_UDP)
        return 0;
    udp_check = packet_at(pkt, ETH_HLEN + IPV6_HLEN + 6, sizeof(__u16));
    return udp_check && *udp_check != 0;
}

static __always_inline __u64 csum_add_ip6(__u64 sum, const void* addr) {
    const __u32* a = addr;

    return sum + a[0] + a[1] + a[2] + a[3];
}

/* A 64-bit one's complement accumulator folded to 16 bits (not complemented). */
static __always_inline __u16 csum_fold64(__u64 sum) {
    sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
    sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    return (__u16)sum;
}

/* The outer UDP checksum of the packet `h` heads, every other byte of it written (the UDP
 * checksum field 0, the inner hop limit decremented). Words are summed as they lie in memory
 * (RFC 1071: the sum is byte-order independent), 16-bit values in network order:
 *
 *   outer pseudo-header       source, destination, UDP length, next header 17
 *   + UDP header, VXLAN header, inner Ethernet header, the inner IPv6 header's first 8 bytes
 *   + the inner upper-layer message, which sums to -(inner pseudo-header) (see
 *     direct6_checksummable); its addresses cancel the inner header's own, which are therefore
 *     left out of both, leaving -(payload length) - (next header)
 *
 * complemented, 0 sent as 0xFFFF (RFC 8200 8.1). */
static __always_inline __sum16 vxlan6_udp_checksum(const struct vxlan6_encap* h, __u16 udp_len,
                                                   const struct ipv6hdr* inner) {
    const __u32* w = (const __u32*)&h->udp; /* 38 bytes: UDP .. the inner hop limit */
    __u64 sum = 0;
    __u16 check;

    sum = csum_add_ip6(sum, &h->ip6.saddr);
    sum = csum_add_ip6(sum, &h->ip6.daddr);
    sum += bpf_htons(udp_len) + bpf_htons(IPPROTO_UDP);
    sum += (__u64)w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7] + w[8];
    sum += *(const __u16*)&w[9];
    sum += (__u16)~inner->payload_len;
    sum += (__u16)~bpf_htons(inner->nexthdr);
    check = (__u16)~csum_fold64(sum);
    return check ? check : 0xFFFF;
}

/* The 70 bytes after the outer Ethernet header. `udp_len`: UDP header to the frame's end. */
static __always_inline void vxlan6_fill(struct vxlan6_encap* h, __u16 udp_len, __u8 inner_tclass,
                                        __u32 flow_hash, const struct shuttle_route6* route,
                                        const struct shuttle_config* cfg) {
    /* ip6_flow_hdr(): version 6, the traffic class INET_ECN_encapsulate() makes of the inner
     * one with the device's tos 0, flow label 0 (flannel's device sets none) */
    *(__be32*)&h->ip6 = bpf_htonl(0x60000000u | ((__u32)vxlan_outer_tos(inner_tclass) << 20));
    h->ip6.payload_len = bpf_htons(udp_len);
    h->ip6.nexthdr = IPPROTO_UDP;
    h->ip6.hop_limit = VXLAN6_OUTER_HOP_LIMIT;
    ipv6_copy(&h->ip6.saddr, route->local_ip6);
    ipv6_copy(&h->ip6.daddr, route->underlay_ip6);

    h->udp.source = vxlan_source_port(flow_hash);
    h->udp.dest = vxlan_port_of(cfg);
    h->udp.len = bpf_htons(udp_len);
    h->udp.check = 0;

    h->vxlan.flags = bpf_htonl(VXLAN_FLAG_VNI);
    h->vxlan.vni = bpf_htonl(route->vni << 8);

    mac_copy(h->inner_eth.h_dest, route->vtep_mac);
    mac_copy(h->inner_eth.h_source, cfg->vtep_mac);
    h->inner_eth.h_proto = bpf_htons(ETH_P_IPV6);
}

/* The inner IPv6 traffic class (version 4 bits, class 8, flow label 20). */
static __always_inline __u8 ipv6_tclass(const struct ipv6hdr* ip6) {
    return (__u8)(bpf_ntohl(*(const __be32*)ip6) >> 20);
}

/* from_pod's direct path for IPv6: the outer headers pushed here, to the underlay through the
 * kernel's neighbour table. A negative result: not taken, the packet unchanged (the caller's
 * header pointers invalid after a refused grow), the device path must handle it. */
static __always_inline int encapsulate6_direct(struct __sk_buff* skb, const struct packet* pkt,
                                               const struct ipv6hdr* ip6,
                                               const struct ipv6_upper* upper,
                                               const struct shuttle_route6* route,
                                               const struct shuttle_config* cfg) {
    __u32 mtu = 0; /* in: 0 = use skb->len; out: the underlay's MTU */
    struct vxlan6_encap* h;
    struct ipv6hdr* inner;
    struct packet grown;
    __u32 flow_hash;
    __u8 tclass;

    if (ipv6_is_unspecified(route->local_ip6) || !direct6_checksummable(skb, pkt, ip6, upper))
        return -1;
    if (bpf_check_mtu(skb, cfg->underlay_ifindex, &mtu, VXLAN6_ENCAP_LEN, 0) != 0)
        return -1;
    tclass = ipv6_tclass(ip6);
    flow_hash = bpf_get_hash_recalc(skb); /* of the inner packet, as the device hashes it */
    if (bpf_skb_adjust_room(skb, VXLAN6_ENCAP_LEN, BPF_ADJ_ROOM_MAC, vxlan6_room_flags()) != 0)
        return -1; /* e.g. already encapsulated (-EALREADY): the device copes */

    grown = packet_of(skb);
    h = packet_at(&grown, ETH_HLEN, VXLAN6_ENCAP_LEN + sizeof(struct ipv6hdr));
    if (!h)
        return drop(skb, SHUTTLE_DROP_REDIRECT_FAILED);
    inner = (void*)h + VXLAN6_ENCAP_LEN;
    inner->hop_limit--;
    vxlan6_fill(h, skb->len - ETH_HLEN - IPV6_HLEN, tclass, flow_hash, route, cfg);
    h->udp.check = vxlan6_udp_checksum(h, skb->len - ETH_HLEN - IPV6_HLEN, inner);
    forwarded(skb, SHUTTLE_REDIRECT_ENCAP_DIRECT, cfg);
    return bpf_redirect_neigh(cfg->underlay_ifindex, NULL, 0, 0);
}

/* ---- receive side ----------------------------------------------------------------------- */

/* Outer headers, inner IPv6 header and the inner upper-layer header's first 8 bytes (a UDP
 * checksum): what from_underlay reads before it strips anything. */
#define VXLAN6_RX_NEED (VXLAN6_INNER_IP_OFF + IPV6_HLEN + 8)

/* The outer UDP checksum checked against the inner message instead of summed over it: with
 * the identity above (the inner message sums to -(its pseudo-header) once its own checksum is
 * right), a right outer checksum makes the sum of the outer pseudo-header, the headers up to
 * the inner hop limit (the stored checksum included) and -(inner length, next header) fold to
 * 0xFFFF. A damaged header shows here; a damaged inner message fails its own checksum in the
 * pod (the skb is not marked verified: see from_underlay's csum level). O(1) in the packet's
 * length. */
static __always_inline int vxlan6_checksum_consistent(const struct vxlan6_encap* h,
                                                      const struct ipv6hdr* inner) {
    const __u32* w = (const __u32*)&h->udp;
    __u64 sum = 0;

    sum = csum_add_ip6(sum, &h->ip6.saddr);
    sum = csum_add_ip6(sum, &h->ip6.daddr);
    sum += h->udp.len + bpf_htons(IPPROTO_UDP);
    sum += (__u64)w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7] + w[8];
    sum += *(const __u16*)&w[9];
    sum += (__u16)~inner->payload_len;
    sum += (__u16)~bpf_htons(inner->nexthdr);
    return csum_fold64(sum) == 0xFFFF;
}

/* An IPv6 UDP packet to our VXLAN port (any of our addresses: the device's socket is
 * [::]:<port>), or NULL: what every IPv6 packet on the underlay pays. */
static __always_inline struct ipv6hdr* vxlan6_outer(const struct packet* pkt,
                                                    const struct shuttle_config* cfg) {
    struct ipv6hdr* outer = packet_at(pkt, ETH_HLEN, sizeof(struct ipv6hdr));
    struct udphdr* udp;

    if (!outer || outer->version != 6 || outer->nexthdr != IPPROTO_UDP)
        return NULL;
    udp = packet_at(pkt, VXLAN6_UDP_OFF, sizeof(struct udphdr));
    return udp && udp->dest == vxlan_port_of(cfg) ? outer : NULL;
}

/* What from_underlay may strip and deliver: the route to the inner source's node (routes6)
 * names the outer source as that node and the outer destination as us, the VNI ours, the
 * inner packet one whose checksum identity holds (as for sending: TCP, UDP with a checksum,
 * ICMPv6, no extension headers, lengths that agree), a non-zero outer checksum consistent
 * with it, for a pod of this node, not a NATed pair, hop limit > 1, not GSO. The local pod,
 * or NULL: the device path takes the packet as it is, and judges it (from_overlay's checks,
 * the kernel's UDP checksum). */
static __always_inline struct shuttle_endpoint6* vxlan6_deliverable(
    struct __sk_buff* skb, const struct vxlan6_encap* h, const struct ipv6hdr* inner,
    const struct shuttle_config* cfg) {
    struct shuttle_endpoint6* dest;
    struct shuttle_config6* cfg6;
    struct shuttle_route6* route;

    if (skb->gso_size != 0 || h->vxlan.flags != bpf_htonl(VXLAN_FLAG_VNI) ||
        (h->vxlan.vni & bpf_htonl(0xFF)) != 0 || h->inner_eth.h_proto != bpf_htons(ETH_P_IPV6) ||
        inner->version != 6 || h->udp.check == 0)
        return NULL;
    if (h->ip6.payload_len != h->udp.len ||
        bpf_ntohs(h->udp.len) != skb->len - ETH_HLEN - IPV6_HLEN ||
        bpf_ntohs(inner->payload_len) != skb->len - VXLAN6_INNER_IP_OFF - IPV6_HLEN)
        return NULL;
    if (inner->nexthdr != IPPROTO_TCP && inner->nexthdr != NEXTHDR_ICMPV6 &&
        !(inner->nexthdr == IPPROTO_UDP && *(const __u16*)((void*)(inner + 1) + 6) != 0))
        return NULL;
    if (cfg->vni != 0 && bpf_ntohl(h->vxlan.vni) >> 8 != cfg->vni)
        return NULL;
    cfg6 = config6_of_node();
    if (!cfg6)
        return NULL;
    route = route6_of(&inner->saddr, cfg6);
    if (!route || !ipv6_equal(&h->ip6.saddr, route->underlay_ip6) ||
        !ipv6_equal(&h->ip6.daddr, route->local_ip6))
        return NULL;
    dest = endpoint6_of(&inner->daddr, cfg6);
    if (!dest || inner->hop_limit <= 1)
        return NULL;
    if (nat_check_enabled && (dest->flags & SHUTTLE_EP_F_NAT_PEERS) &&
        is_nat_pair6(&inner->daddr, &inner->saddr))
        return NULL;
    return vxlan6_checksum_consistent(h, inner) ? dest : NULL;
}

/* Hop limit - 1 on a received packet. IPv6 has no header checksum, but a NIC's
 * CHECKSUM_COMPLETE sum covers the header: it gets the same difference (bpf_csum_update does
 * nothing for other skbs), or the pod's stack would see a checksum fault. */
static __always_inline void ip6_decrease_hop_limit(struct __sk_buff* skb, struct ipv6hdr* ip6) {
    __be32 before = *(__be32*)&ip6->payload_len, after; /* length, next header, hop limit */

    ip6->hop_limit--;
    after = *(__be32*)&ip6->payload_len;
    bpf_csum_update(skb, bpf_csum_diff(&before, sizeof(before), &after, sizeof(after), 0));
}

/* from_underlay's IPv6 part: an IPv6 packet that is not VXLAN to our port passes untouched
 * (not-vxlan); VXLAN the direct path does not take goes on to the device (to-device);
 * the rest is stripped and delivered into the pod (decap-direct). */
static __always_inline int from_underlay_ipv6(struct __sk_buff* skb, struct packet* pkt) {
    struct shuttle_endpoint6* dest;
    struct shuttle_config* cfg = config_of_node();
    struct vxlan6_encap* h;
    struct ipv6hdr* ip6;
    struct ethhdr* eth;

    if (!cfg || !vxlan6_outer(pkt, cfg))
        return pass(skb, SHUTTLE_PASS_NOT_VXLAN);
    if (pkt->data + VXLAN6_RX_NEED > pkt->data_end) {
        if (skb->len < VXLAN6_RX_NEED || bpf_skb_pull_data(skb, VXLAN6_RX_NEED) != 0)
            return pass(skb, SHUTTLE_PASS_TO_DEVICE);
        *pkt = packet_of(skb);
    }
    h = packet_at(pkt, ETH_HLEN, VXLAN6_RX_NEED - ETH_HLEN);
    if (!h)
        return pass(skb, SHUTTLE_PASS_TO_DEVICE);
    dest = vxlan6_deliverable(skb, h, (void*)h + VXLAN6_ENCAP_LEN, cfg);
    if (!dest)
        return pass(skb, SHUTTLE_PASS_TO_DEVICE);

    if (bpf_skb_adjust_room(skb, -VXLAN6_ENCAP_LEN, BPF_ADJ_ROOM_MAC,
                            BPF_F_ADJ_ROOM_DECAP_L3_IPV6) != 0)
        return pass(skb, SHUTTLE_PASS_TO_DEVICE); /* nothing was changed */
    /* A NIC's "checksum verified" was the outer one's: one level less, so the pod's stack
     * checks the inner checksum (CHECKSUM_UNNECESSARY at level 0 becomes CHECKSUM_NONE). */
    bpf_csum_level(skb, BPF_CSUM_LEVEL_DEC);
    *pkt = packet_of(skb);
    eth = packet_at(pkt, 0, sizeof(struct ethhdr));
    ip6 = packet_at(pkt, ETH_HLEN, sizeof(struct ipv6hdr));
    if (!eth || !ip6)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    set_macs(eth, dest->pod_mac, dest->host_mac);
    ip6_decrease_hop_limit(skb, ip6);
    if (skb->pkt_type != PACKET_HOST)
        bpf_skb_change_type(skb, PACKET_HOST);
    forwarded(skb, SHUTTLE_REDIRECT_DECAP_DIRECT, cfg);
    return bpf_redirect_peer(dest->ifindex, 0);
}

#endif
