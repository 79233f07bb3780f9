/* The IPv6 half of from_overlay: the sender check of IPv6 tunnel packets (IPv6 outer header,
 * IPv6 inner packet), as lib/overlay.h's tunnel_sender_check for IPv4. The other nodes' IPv6
 * halves come from shuttled (peers6, by PublicIPv6); until it has written them
 * (SHUTTLE_CONFIG_F_IPV6_PEERS), IPv6 passes unchecked as before (to the stack). A checked
 * packet for a pod of this node is redirected into it (deliver_ipv6); the stack forwards the
 * rest. */
#ifndef SHUTTLE_LIB_OVERLAY_IPV6_H
#define SHUTTLE_LIB_OVERLAY_IPV6_H

#include "lib/endpoints.h"
#include "lib/endpoints6.h"
#include "lib/ipv6.h"
#include "lib/maps.h"
#include "lib/nat.h"
#include "lib/overlay.h"
#include "lib/overlay6.h"
#include "lib/stats.h"

/* -1 when the node at `outer_src` may send from `inner_src` (16 bytes each): its IPv6 subnet
 * holds the inner source, or the inner source is the node's PublicIPv6 itself; else the drop
 * reason. One hash lookup. */
static __always_inline int tunnel_sender_check6(const __u32* outer_src, const void* inner_src) {
    struct shuttle_peer6* peer;
    struct shuttle_ip6 key;

    ipv6_copy(key.addr, outer_src);
    peer = bpf_map_lookup_elem(&peers6, &key);
    if (!peer)
        return SHUTTLE_DROP_UNKNOWN_NODE;
    if (ipv6_in_prefix(inner_src, peer->subnet, peer->subnet_len) ||
        ipv6_equal(inner_src, outer_src))
        return -1;
    return SHUTTLE_DROP_FORGED_INNER_SRC;
}

/* A checked IPv6 tunnel packet for a pod of this node: hop limit-1 (<= 1: drop), MACs,
 * bpf_redirect_peer, as IPv4's decapsulated packets (counted redirect/decap). Anything else
 * (no IPv6 network here, not for a pod of this node, a Services reply): the stack, which
 * forwards it by the pod's /128 route. */
static __always_inline int deliver_ipv6(struct __sk_buff* skb, struct ethhdr* eth,
                                        struct ipv6hdr* ip6, const struct shuttle_config* cfg) {
    struct shuttle_config6* cfg6 = config6_of_node();
    struct shuttle_endpoint6* dest;

    if (!cfg6 || ipv6_is_multicast(&ip6->daddr))
        return pass(skb, SHUTTLE_PASS_NOT_LOCAL);
    dest = endpoint6_of(&ip6->daddr, cfg6);
    if (!dest)
        return pass(skb, SHUTTLE_PASS_NOT_LOCAL);
    if (nat_check_enabled && (dest->flags & SHUTTLE_EP_F_NAT_PEERS) &&
        is_nat_pair6(&ip6->daddr, &ip6->saddr))
        return pass(skb, SHUTTLE_PASS_NAT_FLOW);
    if (ip6->hop_limit <= 1)
        return drop(skb, SHUTTLE_DROP_TTL_EXPIRED);

    ip6->hop_limit--;
    set_macs(eth, dest->pod_mac, dest->host_mac);
    /* Before 6.15 redirect_peer keeps pkt_type, and the pod's stack ignores OTHERHOST. */
    if (skb->pkt_type != PACKET_HOST)
        bpf_skb_change_type(skb, PACKET_HOST);
    forwarded(skb, SHUTTLE_REDIRECT_DECAP, cfg);
    return bpf_redirect_peer(dest->ifindex, 0);
}

static __always_inline int from_overlay_ipv6(struct __sk_buff* skb, const struct packet* pkt,
                                             struct ethhdr* eth, const struct shuttle_config* cfg) {
    struct bpf_tunnel_key key;
    struct ipv6hdr* ip6 = parse_ipv6(pkt);
    int reason;

    if (!ip6)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    /* An IPv6 packet in an IPv4 outer header: no IPv6 peer sent it (shuttle's and flannel's
     * nodes send IPv6 over IPv6). */
    if (tunnel_key6_of(skb, &key) != 0)
        return drop(skb, SHUTTLE_DROP_UNKNOWN_NODE);
    if (cfg->vni != 0 && key.tunnel_id != cfg->vni)
        return drop(skb, SHUTTLE_DROP_WRONG_VNI);
    reason = tunnel_sender_check6(key.remote_ipv6, &ip6->saddr);
    if (reason >= 0)
        return drop(skb, reason);
    return deliver_ipv6(skb, eth, ip6, cfg);
}

/* from_overlay's frames other than IPv4. */
static __always_inline int from_overlay_not_ipv4(struct __sk_buff* skb, const struct packet* pkt,
                                                 struct ethhdr* eth) {
    struct shuttle_config* cfg;

    if (eth->h_proto != bpf_htons(ETH_P_IPV6))
        return pass(skb, SHUTTLE_PASS_NON_IP);
    cfg = config_of_node();
    if (!cfg || !(cfg->flags & SHUTTLE_CONFIG_F_IPV6_PEERS))
        return pass(skb, SHUTTLE_PASS_NON_IP); /* no IPv6 peers written: unchecked, as before */
    return from_overlay_ipv6(skb, pkt, eth, cfg);
}

#endif
