/* The programs on every pod's host-side veth.
 *
 * from_pod: tc ingress, i.e. every packet a pod sends.
 *
 *   ARP for the gateway or a cluster address  -> answered with the host veth's MAC
 *   IPv4 to a pod on this node                -> TTL-1, MAC rewrite, bpf_redirect_peer
 *   wrong source IP or MAC                    -> dropped (anti-spoofing)
 *   a reply within a NATed flow (Services)    -> TC_ACT_OK, so conntrack reverses the NAT
 *   anything else                             -> TC_ACT_OK, the host stack's job
 *
 * Every verdict is counted in `stats`; drops are also reported on `events`.
 *
 * to_pod: tc egress, i.e. only what the host stack delivers to a pod (the fast path's
 * bpf_redirect_peer skips it). Remembers NATed pod pairs for from_pod; never drops. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "shuttle_abi.h"
#include "lib/arp.h"
#include "lib/endpoints.h"
#include "lib/l3.h"
#include "lib/maps.h"
#include "lib/nat.h"
#include "lib/parsing.h"
#include "lib/stats.h"

/* Load-time switch, only for measuring the Services check's cost (bench). */
const volatile __u32 nat_check_enabled = 1;

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

static __always_inline int handle_ipv4(struct __sk_buff* skb, const struct packet* pkt,
                                       struct ethhdr* eth) {
    struct shuttle_endpoint *sender, *dest;
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
    if (!dest)
        return pass(skb, SHUTTLE_PASS_NOT_LOCAL);
    if (nat_check_enabled && (sender->flags & SHUTTLE_EP_F_NAT_PEERS) &&
        is_nat_pair(iph->saddr, iph->daddr))
        return pass(skb, SHUTTLE_PASS_NAT_FLOW);
    if (iph->ttl <= 1)
        return drop(skb, SHUTTLE_DROP_TTL_EXPIRED);

    ipv4_decrease_ttl(iph);
    rewrite_macs(eth, dest);
    count_redirect(skb, SHUTTLE_REDIRECT_LOCAL);
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
    struct shuttle_endpoint* pod;
    struct shuttle_config* cfg;
    struct iphdr* iph;

    if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
        return TC_ACT_OK;
    iph = parse_ipv4(&pkt);
    cfg = config_of_node();
    if (!iph || !cfg || iph->saddr == cfg->gateway ||
        !in_prefix(iph->saddr, cfg->cluster_network, cfg->cluster_len))
        return TC_ACT_OK;
    remember_nat_pair(iph->daddr, iph->saddr);
    pod = endpoint_of(iph->daddr, cfg);
    if (pod && !(pod->flags & SHUTTLE_EP_F_NAT_PEERS))
        pod->flags |= SHUTTLE_EP_F_NAT_PEERS; /* racing writers all set the same bit */
    return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
