/* shuttle's program on the node's underlay interface (the --iface / public-IP one). Part of
 * the one BPF object `shuttle`.
 *
 * from_underlay: tc ingress, everything the node receives. VXLAN for a pod of this node from
 * a node of the routes map is stripped here and handed into the pod (bpf_redirect_peer),
 * without the VXLAN device, its UDP socket lookup and its GRO cell. It decides before it
 * strips anything:
 *
 *   not IPv4 UDP to our underlay address and VXLAN port  -> untouched (not-vxlan), one parse
 *   a VNI other than ours                                -> dropped (wrong-vni)
 *   outer source no node / inner source not its subnet   -> dropped (unknown-node,
 *                                                           forged-inner-src)
 *   fragment, IP options, other VXLAN flags, non-IPv4 inner, GSO, no local pod, a NATed
 *   pair                                                 -> still encapsulated to the stack and
 *                                                           the device (to-device)
 *   inner TTL <= 1                                       -> dropped (ttl-expired)
 *
 * IPv6 outer headers (lib/vxlan6.h): not UDP to our VXLAN port -> not-vxlan; VXLAN whose
 * inner source's node (routes6) is the outer source and names us as the outer destination,
 * our VNI, for a local pod, with an outer UDP checksum consistent with the inner packet,
 * not GSO -> stripped and delivered (decap-direct); anything else -> to-device, where the
 * kernel's UDP and from_overlay judge it (drops with their reasons happen there).
 *
 * The device path stays correct for all of these; this one is only faster. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "shuttle_abi.h"
#include "lib/endpoints.h"
#include "lib/l3.h"
#include "lib/license.h"
#include "lib/maps.h"
#include "lib/nat.h"
#include "lib/overlay.h"
#include "lib/parsing.h"
#include "lib/stats.h"
#include "lib/vxlan.h"
#include "lib/vxlan6.h"

/* The VXLAN and inner headers, pulled into the linear area when a driver left them outside
 * (the outer parse needs only 42 bytes, so non-VXLAN packets never pay for the pull). */
static __always_inline enum vxlan_parse vxlan_frame_of(struct __sk_buff* skb, struct packet* pkt,
                                                       struct vxlan_frame* frame) {
    const __u32 need = VXLAN_INNER_IP_OFF + sizeof(struct iphdr);

    if (pkt->data + need > pkt->data_end && skb->len >= need) {
        if (bpf_skb_pull_data(skb, need) != 0)
            return VXLAN_TO_DEVICE;
        *pkt = packet_of(skb);
    }
    return vxlan_inner(pkt, frame);
}

/* Outer IPv4 + UDP + VXLAN + inner Ethernet off, the outer Ethernet header kept in front. */
static __always_inline int strip_vxlan(struct __sk_buff* skb) {
    return bpf_skb_adjust_room(skb, -VXLAN_ENCAP_LEN, BPF_ADJ_ROOM_MAC,
                               BPF_F_ADJ_ROOM_DECAP_L3_IPV4);
}

/* After the strip: the pod's frame, as from_overlay delivers it. */
static __always_inline int deliver_stripped(struct __sk_buff* skb,
                                            const struct shuttle_endpoint* dest,
                                            const struct shuttle_config* cfg) {
    struct packet pkt = packet_of(skb);
    struct ethhdr* eth = parse_eth(&pkt);
    struct iphdr* iph = packet_at(&pkt, ETH_HLEN, sizeof(struct iphdr));

    if (!eth || !iph)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    ipv4_decrease_ttl(iph);
    rewrite_macs(eth, dest);
    if (skb->pkt_type != PACKET_HOST)
        bpf_skb_change_type(skb, PACKET_HOST);
    forwarded(skb, SHUTTLE_REDIRECT_DECAP_DIRECT, cfg);
    return bpf_redirect_peer(dest->ifindex, 0);
}

static __always_inline int from_underlay_verdict(struct __sk_buff* skb) {
    struct packet pkt = packet_of(skb);
    struct shuttle_endpoint* dest;
    struct vxlan_frame frame;
    struct shuttle_config* cfg;
    struct iphdr *outer, *inner;
    __be32 outer_src;
    int reason;

    outer = udp_ipv4_of(&pkt);
    if (!outer) {
        struct ethhdr* eth = packet_at(&pkt, 0, sizeof(struct ethhdr));

        if (eth && eth->h_proto == bpf_htons(ETH_P_IPV6))
            return from_underlay_ipv6(skb, &pkt); /* lib/vxlan6.h */
        return pass(skb, SHUTTLE_PASS_NOT_VXLAN);
    }
    cfg = config_of_node();
    if (!cfg)
        return pass(skb, SHUTTLE_PASS_NOT_VXLAN);
    switch (vxlan_outer(&pkt, outer, cfg)) {
        case VXLAN_OK:
            break;
        case VXLAN_NOT_OURS:
            return pass(skb, SHUTTLE_PASS_NOT_VXLAN);
        default:
            return pass(skb, SHUTTLE_PASS_TO_DEVICE);
    }
    outer_src = outer->saddr;
    if (vxlan_frame_of(skb, &pkt, &frame) != VXLAN_OK)
        return pass(skb, SHUTTLE_PASS_TO_DEVICE);
    inner = frame.inner;
    if (cfg->vni != 0 && vxlan_vni(frame.vxlan) != cfg->vni)
        return drop(skb, SHUTTLE_DROP_WRONG_VNI);
    reason = tunnel_sender_check(outer_src, inner->saddr, cfg);
    if (reason >= 0)
        return drop(skb, reason);

    dest = endpoint_of(inner->daddr, cfg);
    if (!dest)
        return pass(skb, SHUTTLE_PASS_TO_DEVICE);
    if (nat_check_enabled && (dest->flags & SHUTTLE_EP_F_NAT_PEERS) &&
        is_nat_pair(inner->daddr, inner->saddr))
        return pass(skb, SHUTTLE_PASS_TO_DEVICE); /* from_overlay passes it on to conntrack */
    if (inner->ttl <= 1)
        return drop(skb, SHUTTLE_DROP_TTL_EXPIRED);
    /* 6.18 cannot clear SKB_GSO_UDP_TUNNEL from BPF: see docs/ARCHITECTURE.md. */
    if (skb->gso_size != 0)
        return pass(skb, SHUTTLE_PASS_TO_DEVICE);

    if (strip_vxlan(skb) != 0)
        return pass(skb, SHUTTLE_PASS_TO_DEVICE); /* nothing was changed */
    return deliver_stripped(skb, dest, cfg);
}

SEC("tc")
int from_underlay(struct __sk_buff* skb) {
    return from_underlay_verdict(skb);
}
