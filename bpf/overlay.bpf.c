/* shuttle's programs on the node's collect_md VXLAN device. Part of the one BPF object
 * `shuttle` (see docs/ARCHITECTURE.md: one object from several program files).
 *
 * from_overlay: tc ingress, decapsulated packets. Another VNI, an outer source that is no
 * node, an inner source outside that node's subnet: dropped. For a pod of this node: TTL-1,
 * MAC rewrite, bpf_redirect_peer; a NATed pair or anything else: the host stack. IPv6: the
 * same three checks by peers6 once shuttled wrote it (lib/overlay_ipv6.h); then, for a pod
 * of this node, hop limit-1, MACs, bpf_redirect_peer; anything else the stack's.
 *
 * to_overlay: tc egress, what the host stack routes to the device (host -> remote pod,
 * forwarded and NATed traffic): tunnel key and inner MACs from the routes map; no route:
 * dropped. Packets from_pod already encapsulated pass untouched.
 *
 * Counting and events as in pod.bpf.c. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "shuttle_abi.h"
#include "lib/endpoints.h"
#include "lib/l3.h"
#include "lib/license.h"
#include "lib/maps.h"
#include "lib/nat.h"
#include "lib/overlay.h"
#include "lib/overlay6.h"
#include "lib/overlay_ipv6.h"
#include "lib/parsing.h"
#include "lib/stats.h"

static __always_inline int from_overlay_verdict(struct __sk_buff* skb,
                                                const struct tunnel_info tunnel) {
    struct packet pkt = packet_of(skb);
    struct ethhdr* eth = parse_eth(&pkt);
    struct shuttle_endpoint* dest;
    struct shuttle_config* cfg;
    struct iphdr* iph;
    int reason;

    if (!eth)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    if (eth->h_proto != bpf_htons(ETH_P_IP))
        return from_overlay_not_ipv4(skb, &pkt, eth);
    iph = parse_ipv4(&pkt);
    if (!iph)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    cfg = config_of_node();
    if (!cfg)
        return pass(skb, SHUTTLE_PASS_NOT_LOCAL);
    /* A collect_md device takes every VNI on its port; flannel.<VNI> took only its own. */
    if (cfg->vni != 0 && tunnel.vni != cfg->vni)
        return drop(skb, SHUTTLE_DROP_WRONG_VNI);
    /* Forged tunnel packets, as from_underlay refuses them on the direct path. */
    reason = tunnel_sender_check(tunnel.outer_src, iph->saddr, cfg);
    if (reason >= 0)
        return drop(skb, reason);
    dest = endpoint_of(iph->daddr, cfg);
    if (!dest)
        return pass(skb, SHUTTLE_PASS_NOT_LOCAL);
    /* The reply to a pod whose request this node's stack NATed (a Service DNATed here,
     * backend on another node): conntrack must see it to restore the Service address. */
    if (nat_check_enabled && (dest->flags & SHUTTLE_EP_F_NAT_PEERS) &&
        is_nat_pair(iph->daddr, iph->saddr))
        return pass(skb, SHUTTLE_PASS_NAT_FLOW);
    if (iph->ttl <= 1)
        return drop(skb, SHUTTLE_DROP_TTL_EXPIRED);

    ipv4_decrease_ttl(iph);
    rewrite_macs(eth, dest);
    /* Before 6.15 redirect_peer keeps pkt_type, and the pod's stack ignores OTHERHOST. */
    if (skb->pkt_type != PACKET_HOST)
        bpf_skb_change_type(skb, PACKET_HOST);
    forwarded(skb, SHUTTLE_REDIRECT_DECAP, cfg);
    return bpf_redirect_peer(dest->ifindex, 0);
}

SEC("tc")
int from_overlay(struct __sk_buff* skb) {
    return from_overlay_verdict(skb, tunnel_info_of(skb));
}

static __always_inline int to_overlay_verdict(struct __sk_buff* skb) {
    struct packet pkt = packet_of(skb);
    struct ethhdr* eth = parse_eth(&pkt);
    struct shuttle_route* route;
    struct shuttle_config* cfg;
    struct iphdr* iph;

    if (!eth)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    if (eth->h_proto != bpf_htons(ETH_P_IP))
        return pass(skb, SHUTTLE_PASS_NON_IP); /* the device drops it: no tunnel metadata */
    iph = parse_ipv4(&pkt);
    if (!iph)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    cfg = config_of_node();
    if (!cfg)
        return drop(skb, SHUTTLE_DROP_NO_CONFIG);
    route = route_of(iph->daddr, cfg);
    if (!route)
        return drop(skb, SHUTTLE_DROP_NO_ROUTE);
    if (nat_check_enabled && endpoint_of(iph->saddr, cfg))
        remember_stack_flow(iph->saddr, iph->daddr, cfg);
    rewrite_overlay_macs(eth, route, cfg);
    if (set_tunnel(skb, route, cfg) != 0)
        return drop(skb, SHUTTLE_DROP_REDIRECT_FAILED);
    return pass(skb, SHUTTLE_PASS_ENCAP);
}

static __always_inline int to_overlay_program(struct __sk_buff* skb) {
    /* bpf_redirect to a device's egress runs its tc egress hook: from_pod's packets come
     * through here with their tunnel key already set. */
    if (has_tunnel_key(skb))
        return pass(skb, SHUTTLE_PASS_ENCAPSULATED);
    /* IPv6 (from_pod's, or the stack's through its per-peer routes) carries an IPv6 key. */
    if (skb->protocol == bpf_htons(ETH_P_IPV6) && has_tunnel_key6(skb))
        return pass(skb, SHUTTLE_PASS_ENCAPSULATED);
    return to_overlay_verdict(skb);
}

SEC("tc")
int to_overlay(struct __sk_buff* skb) {
    return to_overlay_program(skb);
}
