/* shuttle's programs on every pod's host-side veth. Part of the one BPF object `shuttle`
 * (see docs/ARCHITECTURE.md: one object from several program files, maps in lib/maps.h).
 *
 * from_pod: tc ingress, i.e. every packet a pod sends.
 *
 *   ARP for the gateway or a cluster address  -> answered with the host veth's MAC
 *   IPv4 to a pod on this node                -> TTL-1, MAC rewrite, bpf_redirect_peer
 *   IPv4 to a pod of another node (routes)    -> direct mode: TTL-1, VXLAN headers pushed here,
 *                                                bpf_redirect_neigh to the underlay; device
 *                                                mode (or too big, or refused by the helper):
 *                                                TTL-1, inner MACs, tunnel key, bpf_redirect
 *                                                to the VXLAN device
 *   IPv6                                      -> lib/pod_ipv6.h (NDP answered, redirect, checks)
 *   wrong source IP or MAC                    -> dropped (anti-spoofing)
 *   UDP to a node's VXLAN port                -> dropped (tunnel-from-pod: see tunnel_to_node)
 *   a reply within a NATed flow (Services)    -> TC_ACT_OK, so conntrack reverses the NAT
 *   anything else                             -> TC_ACT_OK, the host stack's job
 *
 * to_pod: tc egress, i.e. only what the host stack delivers to a pod (the fast path's
 * bpf_redirect_peer skips it). Remembers NATed pod pairs for from_pod; never drops.
 *
 * Every verdict is counted in `stats`; drops are also reported on `events`, and so are
 * sampled forwarded packets while node_config has SHUTTLE_CONFIG_F_TRACE. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "shuttle_abi.h"
#include "lib/arp.h"
#include "lib/endpoints.h"
#include "lib/l3.h"
#include "lib/license.h"
#include "lib/maps.h"
#include "lib/nat.h"
#include "lib/overlay.h"
#include "lib/parsing.h"
#include "lib/pod_ipv6.h"
#include "lib/stats.h"
#include "lib/vxlan.h"

static __always_inline int handle_arp(struct __sk_buff* skb, const struct packet* pkt,
                                      struct ethhdr* eth) {
    struct shuttle_endpoint* sender;
    struct shuttle_config* cfg;
    struct arp_ipv4* arp;

    arp = parse_arp(pkt);
    if (!arp)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    cfg = config_of_node();
    if (!cfg)
        return drop(skb, SHUTTLE_DROP_NO_CONFIG);
    /* A probe (sender 0.0.0.0, as in duplicate address detection) names no sender to check
     * or to answer: the stack sees it, as it would on a bridge. */
    if (arp->sender_ip == 0)
        return pass(skb, SHUTTLE_PASS_ARP_OTHER);
    sender = sender_of(skb, arp->sender_ip, cfg);
    if (!sender)
        return drop(skb, SHUTTLE_DROP_SPOOFED_IP);
    if (!mac_equal(eth->h_source, sender->pod_mac) || !mac_equal(arp->sender_mac, sender->pod_mac))
        return drop(skb, SHUTTLE_DROP_SPOOFED_MAC);
    if (arp->op != bpf_htons(ARPOP_REQUEST) || !arp_should_answer(arp->target_ip, sender, cfg))
        return pass(skb, SHUTTLE_PASS_ARP_OTHER);

    arp_make_reply(eth, arp, sender->host_mac);
    count_redirect(skb, SHUTTLE_REDIRECT_ARP_REPLY);
    return bpf_redirect(skb->ifindex, 0);
}

/* A pod's packet for a pod of another node, through the VXLAN device. */
static __always_inline int encapsulate_by_device(struct __sk_buff* skb, struct ethhdr* eth,
                                                 struct iphdr* iph,
                                                 const struct shuttle_route* route,
                                                 const struct shuttle_config* cfg) {
    ipv4_decrease_ttl(iph);
    rewrite_overlay_macs(eth, route, cfg);
    if (set_tunnel(skb, route, cfg) != 0)
        return drop(skb, SHUTTLE_DROP_REDIRECT_FAILED);
    forwarded(skb, SHUTTLE_REDIRECT_REMOTE, cfg);
    return bpf_redirect(cfg->vxlan_ifindex, 0);
}

/* A pod's packet for a pod of another node: into the tunnel, by our own headers in direct
 * mode, else (or when the direct path does not take it) through the device. */
static __always_inline int encapsulate(struct __sk_buff* skb, struct ethhdr* eth, struct iphdr* iph,
                                       const struct shuttle_route* route,
                                       const struct shuttle_config* cfg) {
    struct packet pkt;
    int verdict;

    if (iph->ttl <= 1)
        return drop(skb, SHUTTLE_DROP_TTL_EXPIRED);
    if (!direct_overlay(cfg))
        return encapsulate_by_device(skb, eth, iph, route, cfg);
    verdict = encapsulate_direct(skb, iph, route, cfg);
    if (verdict >= 0)
        return verdict;
    /* Unchanged, but the helpers it called invalidated the header pointers. */
    pkt = packet_of(skb);
    eth = parse_eth(&pkt);
    iph = parse_ipv4(&pkt);
    if (!eth || !iph)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    return encapsulate_by_device(skb, eth, iph, route, cfg);
}

/* A pod's UDP datagram to a node's VXLAN port (this node's or another's underlay address).
 * With masquerading (ipMasq) it would leave with this node's underlay address as its source,
 * and the receiver's tunnel sender check would take its inner packet from any address of
 * this node's subnet: a spoofed source delivered to a pod of the other node. A first
 * fragment too short for the UDP header counts as one (no pod sends such a packet). */
static __always_inline int tunnel_to_node(const struct packet* pkt, const struct iphdr* iph,
                                          const struct shuttle_config* cfg) {
    struct udphdr* udp;

    if (iph->protocol != IPPROTO_UDP || (iph->frag_off & bpf_htons(IP_FRAGMENT_OFFSET_MASK)))
        return 0;
    /* The port first: other UDP (DNS to a Service, ...) pays no hash lookup. */
    udp = packet_at(pkt, ETH_HLEN + (iph->ihl & 0xF) * 4, sizeof(struct udphdr));
    if (udp && udp->dest != vxlan_port_of(cfg))
        return 0;
    return iph->daddr == cfg->underlay_ip || is_node(iph->daddr);
}

/* The route to another node when `daddr` is a remote pod reachable through the overlay. */
static __always_inline struct shuttle_route* remote_route(__be32 daddr,
                                                          const struct shuttle_config* cfg) {
    struct shuttle_route* route;

    if (cfg->vxlan_ifindex == 0 || !in_prefix(daddr, cfg->cluster_network, cfg->cluster_len))
        return NULL;
    route = route_of(daddr, cfg);
    return route && !(route->flags & SHUTTLE_ROUTE_F_DIRECT) ? route : NULL;
}

static __always_inline int handle_ipv4(struct __sk_buff* skb, const struct packet* pkt,
                                       struct ethhdr* eth) {
    struct shuttle_endpoint *sender, *dest;
    struct shuttle_route* route = NULL;
    struct shuttle_config* cfg;
    struct iphdr* iph;

    iph = parse_ipv4(pkt);
    if (!iph)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    cfg = config_of_node();
    if (!cfg)
        return drop(skb, SHUTTLE_DROP_NO_CONFIG);
    sender = sender_of(skb, iph->saddr, cfg);
    if (!sender)
        return drop(skb, SHUTTLE_DROP_SPOOFED_IP);
    if (!mac_equal(eth->h_source, sender->pod_mac))
        return drop(skb, SHUTTLE_DROP_SPOOFED_MAC);

    dest = endpoint_of(iph->daddr, cfg);
    if (!dest) {
        route = remote_route(iph->daddr, cfg);
        if (!route && tunnel_to_node(pkt, iph, cfg))
            return drop(skb, SHUTTLE_DROP_TUNNEL_FROM_POD);
        if (!route)
            return pass(skb, SHUTTLE_PASS_NOT_LOCAL);
    }
    if (nat_check_enabled && (sender->flags & SHUTTLE_EP_F_NAT_PEERS) &&
        is_nat_pair(iph->saddr, iph->daddr))
        return pass(skb, SHUTTLE_PASS_NAT_FLOW);
    if (route)
        return encapsulate(skb, eth, iph, route, cfg);
    if (iph->ttl <= 1)
        return drop(skb, SHUTTLE_DROP_TTL_EXPIRED);

    ipv4_decrease_ttl(iph);
    rewrite_macs(eth, dest);
    forwarded(skb, SHUTTLE_REDIRECT_LOCAL, cfg);
    return bpf_redirect_peer(dest->ifindex, 0);
}

static __always_inline int from_pod_verdict(struct __sk_buff* skb) {
    struct packet pkt = packet_of(skb);
    struct ethhdr* eth = parse_eth(&pkt);

    if (!eth)
        return drop(skb, SHUTTLE_DROP_MALFORMED);
    if (eth->h_proto == bpf_htons(ETH_P_IP))
        return handle_ipv4(skb, &pkt, eth);
    if (eth->h_proto == bpf_htons(ETH_P_ARP))
        return handle_arp(skb, &pkt, eth);
    if (eth->h_proto == bpf_htons(ETH_P_IPV6))
        return handle_ipv6(skb, &pkt, eth);
    return pass(skb, SHUTTLE_PASS_NON_IP);
}

SEC("tc")
int from_pod(struct __sk_buff* skb) {
    return from_pod_verdict(skb);
}

SEC("tc")
int to_pod(struct __sk_buff* skb) {
    struct packet pkt = packet_of(skb);
    struct ethhdr* eth = parse_eth(&pkt);
    struct shuttle_config* cfg;
    struct iphdr* iph;

    if (eth && eth->h_proto == bpf_htons(ETH_P_IPV6))
        return to_pod_ipv6(&pkt);
    if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
        return TC_ACT_OK;
    iph = parse_ipv4(&pkt);
    cfg = config_of_node();
    if (!iph || !cfg || iph->saddr == cfg->gateway ||
        !in_prefix(iph->saddr, cfg->cluster_network, cfg->cluster_len))
        return TC_ACT_OK;
    remember_stack_flow(iph->daddr, iph->saddr, cfg);
    return TC_ACT_OK;
}
