/* The IPv6 half of the pod programs (pod.bpf.c dispatches IPv6 frames here).
 *
 * from_pod, IPv6 (once node_config6 is set; before, IPv6 passes `non-ip` as it always did):
 *   source ::                      -> DAD NS, RS, MLD report: the stack; else drop spoofed-ip
 *   source link-local (fe80::/10)  -> NDP and MLD only (the stack, which answers its own
 *                                     link-local and the gateway); else drop spoofed-ip
 *   other source                   -> must be a pod behind this veth (spoofed-ip) with its MAC
 *                                     (spoofed-mac)
 *   NS for the gateway/a cluster   -> answered here (NA, back out of the veth)
 *   other NDP                      -> the stack (ndp-other)
 *   ICMPv6 errors, MLD             -> the stack (icmpv6-stack)
 *   to a pod of this node          -> nat-flow pass, or hop limit-1 (<= 1: drop), MACs,
 *                                     bpf_redirect_peer
 *   to a pod of another node       -> (a routes6 entry for its subnet, a VXLAN device in
 *                                     node_config) nat-flow pass, or hop limit-1 (<= 1: drop),
 *                                     then in direct mode, for what lib/vxlan6.h can checksum
 *                                     (no GSO, TCP/UDP/ICMPv6) and fits the underlay: outer
 *                                     IPv6/UDP (checksum computed)/VXLAN pushed here,
 *                                     bpf_redirect_neigh to the underlay; else MACs our
 *                                     VtepMAC -> the node's, IPv6 tunnel key (outer UDP
 *                                     checksum on), bpf_redirect to the device; no entry or
 *                                     too big for an IPv6 outer header: the stack
 *                                     (not-local), whose routes on the device encap
 *   anything else                  -> the stack (not-local)
 *
 * to_pod, IPv6: records {pod, peer} in nat_pairs6 as IPv4's to_pod does, NDP aside (the
 * NAs from_pod sends back out of the veth pass through here). */
#ifndef SHUTTLE_LIB_POD_IPV6_H
#define SHUTTLE_LIB_POD_IPV6_H

#include "lib/endpoints.h"
#include "lib/endpoints6.h"
#include "lib/ipv6.h"
#include "lib/ndp.h"
#include "lib/overlay6.h"
#include "lib/stats.h"
#include "lib/vxlan6.h"

/* Counted and traced as IPv4's forwarded packets (the trace switch is in node_config). */
static __always_inline void forwarded6(struct __sk_buff* skb, enum shuttle_redirect_reason reason) {
    __u32 zero = 0;
    struct shuttle_config* cfg = bpf_map_lookup_elem(&node_config, &zero);

    if (cfg)
        forwarded(skb, reason, cfg);
    else
        count_redirect(skb, reason);
}

/* An NS from a pod's own address: answered here when it asks for the gateway or a cluster
 * address, else the stack's. */
static __always_inline int answer_ns(struct __sk_buff* skb, const struct packet* pkt,
                                     struct ipv6hdr* ip6, const struct ipv6_upper* upper,
                                     const struct shuttle_endpoint6* sender,
                                     const struct shuttle_config6* cfg) {
    struct ndp_msg* ns = parse_ns(pkt, ip6, upper);

    if (!ns || !ns_should_answer(ns->target, &ip6->saddr, cfg))
        return pass(skb, SHUTTLE_PASS_NDP_OTHER);
    if (ns_make_advert(skb, ns->target, &ip6->saddr, sender->pod_mac, sender->host_mac) != 0)
        return pass(skb, SHUTTLE_PASS_NDP_OTHER);
    count_redirect(skb, SHUTTLE_REDIRECT_NA_REPLY);
    return bpf_redirect(skb->ifindex, 0);
}

/* Sources that name no pod: the unspecified address (DAD, RS, MLD before an address) and
 * link-local ones (NDP, MLD), each only for what needs it. */
static __always_inline int handle_ipv6_unowned_source(struct __sk_buff* skb,
                                                      const struct ipv6hdr* ip6,
                                                      const struct ipv6_upper* upper) {
    __u8 type = upper->icmp_type;

    if (upper->protocol != NEXTHDR_ICMPV6)
        return drop(skb, SHUTTLE_DROP_SPOOFED_IP);
    if (ipv6_is_unspecified(&ip6->saddr)) {
        if (type == ICMPV6_NEIGH_SOLICIT || type == ICMPV6_ROUTER_SOLICIT)
            return pass(skb, SHUTTLE_PASS_NDP_OTHER);
        if (type == ICMPV6_MLD_REPORT || type == ICMPV6_MLD2_REPORT)
            return pass(skb, SHUTTLE_PASS_ICMPV6_STACK);
        return drop(skb, SHUTTLE_DROP_SPOOFED_IP);
    }
    if (icmpv6_is_ndp(type))
        return pass(skb, SHUTTLE_PASS_NDP_OTHER);
    if (icmpv6_is_mld(type))
        return pass(skb, SHUTTLE_PASS_ICMPV6_STACK);
    return drop(skb, SHUTTLE_DROP_SPOOFED_IP);
}

/* A pod's IPv6 packet for a pod of another node: hop limit - 1, inner MACs from our VtepMAC to
 * the node's, tunnel key, bpf_redirect to the VXLAN device. Too big for an IPv6 outer header
 * (the device's MTU is set for IPv4's, 20 bytes less): the stack's, unchanged, whose route
 * on the device learns the path MTU and answers "packet too big", as before routes6. */
static __always_inline int encapsulate6_by_device(struct __sk_buff* skb, const struct packet* pkt,
                                                  struct ethhdr* eth, struct ipv6hdr* ip6,
                                                  const struct ipv6_upper* upper,
                                                  const struct shuttle_route6* route,
                                                  const struct shuttle_config* cfg) {
    if (!fits_ipv6_tunnel(skb, pkt, upper, cfg->vxlan_ifindex))
        return pass(skb, SHUTTLE_PASS_NOT_LOCAL);
    ip6->hop_limit--;
    set_macs(eth, route->vtep_mac, cfg->vtep_mac);
    if (set_tunnel6(skb, route) != 0)
        return drop(skb, SHUTTLE_DROP_REDIRECT_FAILED);
    forwarded(skb, SHUTTLE_REDIRECT_REMOTE, cfg);
    return bpf_redirect(cfg->vxlan_ifindex, 0);
}

/* Direct mode: our own outer headers when the program can checksum them (lib/vxlan6.h: not
 * GSO, TCP/UDP/ICMPv6 without extension headers) and they fit the underlay; else, and when
 * the helper refuses, the device path. */
static __always_inline int encapsulate6(struct __sk_buff* skb, const struct packet* pkt,
                                        struct ethhdr* eth, struct ipv6hdr* ip6,
                                        const struct ipv6_upper* upper,
                                        const struct shuttle_route6* route,
                                        const struct shuttle_config* cfg) {
    struct packet again;
    int verdict;

    if (!direct_overlay(cfg))
        return encapsulate6_by_device(skb, pkt, eth, ip6, upper, route, cfg);
    verdict = encapsulate6_direct(skb, pkt, ip6, upper, route, cfg);
    if (verdict >= 0)
        return verdict;
    /* Unchanged, but the helpers it called invalidated the header pointers. */
    again = packet_of(skb);
    eth = parse_eth(&again);
    ip6 = parse_ipv6(&again);
    if (!eth || !ip6)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    return encapsulate6_by_device(skb, &again, eth, ip6, upper, route, cfg);
}

static __always_inline int handle_ipv6(struct __sk_buff* skb, const struct packet* pkt,
                                       struct ethhdr* eth) {
    struct shuttle_endpoint6 *sender, *dest;
    struct shuttle_config* node_cfg = NULL;
    struct shuttle_route6* route = NULL;
    struct shuttle_config6* cfg;
    struct ipv6_upper upper;
    struct ipv6hdr* ip6;

    cfg = config6_of_node();
    if (!cfg)
        return pass(skb, SHUTTLE_PASS_NON_IP); /* no IPv6 network here: the stack's, as before */
    ip6 = parse_ipv6(pkt);
    if (!ip6)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    if (ipv6_upper_of(pkt, ip6, &upper) != 0)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    if (ipv6_is_unspecified(&ip6->saddr) || ipv6_is_link_local(&ip6->saddr))
        return handle_ipv6_unowned_source(skb, ip6, &upper);
    sender = sender6_of(skb, &ip6->saddr, cfg);
    if (!sender)
        return drop(skb, SHUTTLE_DROP_SPOOFED_IP);
    if (!mac_equal(eth->h_source, sender->pod_mac))
        return drop(skb, SHUTTLE_DROP_SPOOFED_MAC);

    if (upper.protocol == NEXTHDR_ICMPV6) {
        if (upper.icmp_type == ICMPV6_NEIGH_SOLICIT)
            return answer_ns(skb, pkt, ip6, &upper, sender, cfg);
        if (icmpv6_is_ndp(upper.icmp_type))
            return pass(skb, SHUTTLE_PASS_NDP_OTHER);
        if (icmpv6_for_stack(upper.icmp_type))
            return pass(skb, SHUTTLE_PASS_ICMPV6_STACK);
    }
    if (ipv6_is_multicast(&ip6->daddr))
        return pass(skb, SHUTTLE_PASS_NOT_LOCAL);
    dest = endpoint6_of(&ip6->daddr, cfg);
    if (!dest) {
        node_cfg = config_of_node();
        route = remote_route6(&ip6->daddr, cfg, node_cfg);
        if (!route || !node_cfg) /* (no route without node_cfg: said for the verifier) */
            return pass(skb, SHUTTLE_PASS_NOT_LOCAL);
    }
    if (nat_check_enabled && (sender->flags & SHUTTLE_EP_F_NAT_PEERS) &&
        is_nat_pair6(&ip6->saddr, &ip6->daddr))
        return pass(skb, SHUTTLE_PASS_NAT_FLOW);
    if (ip6->hop_limit <= 1)
        return drop(skb, SHUTTLE_DROP_TTL_EXPIRED);

    if (route && node_cfg)
        return encapsulate6(skb, pkt, eth, ip6, &upper, route, node_cfg);

    ip6->hop_limit--; /* no header checksum in IPv6 */
    set_macs(eth, dest->pod_mac, dest->host_mac);
    forwarded6(skb, SHUTTLE_REDIRECT_LOCAL);
    return bpf_redirect_peer(dest->ifindex, 0);
}

/* to_pod's IPv6 part: what the stack delivers from another cluster address (not the gateway)
 * belongs to a flow it may NAT. Never drops. */
static __always_inline int to_pod_ipv6(const struct packet* pkt) {
    struct shuttle_config6* cfg = config6_of_node();
    struct ipv6_upper upper;
    struct ipv6hdr* ip6 = parse_ipv6(pkt);

    if (!ip6 || !cfg || ipv6_equal(&ip6->saddr, cfg->gateway) ||
        !ipv6_in_prefix(&ip6->saddr, cfg->cluster_network, cfg->cluster_len) ||
        ipv6_upper_of(pkt, ip6, &upper) != 0 ||
        (upper.protocol == NEXTHDR_ICMPV6 && icmpv6_is_ndp(upper.icmp_type)))
        return TC_ACT_OK;
    remember_stack_flow6(&ip6->daddr, &ip6->saddr, cfg);
    return TC_ACT_OK;
}

#endif
