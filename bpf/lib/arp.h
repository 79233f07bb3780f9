/* ARP responder: the pod's gateway and every cluster address resolve to the host veth. */
#ifndef SHUTTLE_LIB_ARP_H
#define SHUTTLE_LIB_ARP_H

#include "lib/parsing.h"

#define ARPHRD_ETHER 1
#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2

/* An ARP packet for IPv4 over Ethernet (RFC 826), right after the Ethernet header. */
struct arp_ipv4 {
    __be16 hw_type;
    __be16 proto_type;
    __u8 hw_len;
    __u8 proto_len;
    __be16 op;
    __u8 sender_mac[ETH_ALEN];
    __be32 sender_ip;
    __u8 target_mac[ETH_ALEN];
    __be32 target_ip;
} __attribute__((packed));

/* The ARP body, or NULL when truncated or not Ethernet/IPv4. */
static __always_inline struct arp_ipv4* parse_arp(const struct packet* pkt) {
    struct arp_ipv4* arp = packet_at(pkt, ETH_HLEN, sizeof(struct arp_ipv4));

    if (!arp || arp->hw_type != bpf_htons(ARPHRD_ETHER) || arp->proto_type != bpf_htons(ETH_P_IP) ||
        arp->hw_len != ETH_ALEN || arp->proto_len != 4)
        return NULL;
    return arp;
}

/* Does this node answer `sender`'s ARP request for `ip`? The gateway and the cluster
 * network, but never the asking pod's own address (duplicate address detection). */
static __always_inline int arp_should_answer(__be32 ip, const struct shuttle_endpoint* sender,
                                             const struct shuttle_config* cfg) {
    if (ip == sender->pod_ip)
        return 0;
    return ip == cfg->gateway || in_prefix(ip, cfg->cluster_network, cfg->cluster_len);
}

/* Turns the request into its reply in place: `answer_mac` owns the asked-for address. */
static __always_inline void arp_make_reply(struct ethhdr* eth, struct arp_ipv4* arp,
                                           const __u8* answer_mac) {
    __be32 asked_ip = arp->target_ip;

    mac_copy(eth->h_dest, arp->sender_mac);
    mac_copy(eth->h_source, answer_mac);
    arp->op = bpf_htons(ARPOP_REPLY);
    mac_copy(arp->target_mac, arp->sender_mac);
    arp->target_ip = arp->sender_ip;
    mac_copy(arp->sender_mac, answer_mac);
    arp->sender_ip = asked_ip;
}

#endif
