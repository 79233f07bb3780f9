/* Router duties on a forwarded IPv4 packet. */
#ifndef SHUTTLE_LIB_L3_H
#define SHUTTLE_LIB_L3_H

#include "lib/parsing.h"

/* Decrements the TTL and patches the header checksum incrementally (RFC 1624), as the
 * kernel's ip_decrease_ttl() does: the TTL is the high byte of its 16-bit word. */
static __always_inline void ipv4_decrease_ttl(struct iphdr* iph) {
    __u32 check = (__u32)iph->check;

    check += (__u32)bpf_htons(0x0100);
    iph->check = (__sum16)(check + (check >= 0xFFFF));
    iph->ttl--;
}

/* Ethernet header of a packet handed to `ep`: from its gateway (host veth) to the pod. */
static __always_inline void rewrite_macs(struct ethhdr* eth, const struct shuttle_endpoint* ep) {
    mac_copy(eth->h_dest, ep->pod_mac);
    mac_copy(eth->h_source, ep->host_mac);
}

#endif
