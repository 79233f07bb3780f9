/* The IPv6 overlay's device path: finding the node behind a remote IPv6 pod address
 * (routes6) and handing a packet to the collect_md device with the tunnel metadata flannel's
 * IPv6 peers expect (IPv6 outer header, VNI, a UDP checksum, inner MACs from our VtepMAC to
 * theirs). The direct path (our own headers) is lib/vxlan6.h. */
#ifndef SHUTTLE_LIB_OVERLAY6_H
#define SHUTTLE_LIB_OVERLAY6_H

#include "lib/endpoints6.h"
#include "lib/ipv6.h"
#include "lib/maps.h"
#include "lib/overlay.h"

/* The node whose IPv6 subnet holds `addr` (16 bytes, network order), or NULL: one hash
 * lookup on the address's first 64 bits masked with the node subnet's length (every lease
 * has it). Lengths over 64 have no entries (shuttle_abi.h). */
static __always_inline struct shuttle_route6* route6_of(const void* addr,
                                                        const struct shuttle_config6* cfg) {
    const __u32* a = addr;
    __u32 len = cfg->node_subnet_len;
    struct shuttle_route6_key key;
    __u32* subnet = (__u32*)key.subnet;

    if (len == 0 || len > SHUTTLE_ROUTE6_MAX_PREFIX)
        return NULL;
    subnet[0] = a[0] & ipv6_word_mask(len, 0);
    subnet[1] = a[1] & ipv6_word_mask(len, 1);
    key.prefix_len = len;
    return bpf_map_lookup_elem(&routes6, &key);
}

/* A remote node's IPv6 pod, reachable through the device: the route, else NULL. */
static __always_inline struct shuttle_route6* remote_route6(const void* daddr,
                                                            const struct shuttle_config6* cfg6,
                                                            const struct shuttle_config* cfg) {
    if (!cfg || cfg->vxlan_ifindex == 0 ||
        !ipv6_in_prefix(daddr, cfg6->cluster_network, cfg6->cluster_len))
        return NULL;
    return route6_of(daddr, cfg6);
}

/* The collect_md device's instructions for an IPv6 outer header: VNI, TTL, outer source and
 * destination. Without BPF_F_ZERO_CSUM_TX the helper sets TUNNEL_CSUM, and the VXLAN device
 * then writes the outer UDP checksum (GSO: SKB_GSO_UDP_TUNNEL_CSUM), which flannel's IPv6
 * device requires. 0 or a negative errno. */
static __always_inline long set_tunnel6(struct __sk_buff* skb, const struct shuttle_route6* route) {
    struct bpf_tunnel_key key = {};

    key.tunnel_id = route->vni;
    ipv6_copy(key.remote_ipv6, route->underlay_ip6); /* network order, as the helper wants */
    ipv6_copy(key.local_ipv6, route->local_ip6);
    key.tunnel_ttl = SHUTTLE_TUNNEL_TTL;
    return bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_TUNINFO_IPV6);
}

#define IPV6_TUNNEL_EXTRA 20 /* an IPv6 outer header's bytes over an IPv4 one */

/* Does the packet fit the VXLAN device `ifindex` with an IPv6 outer header? The device's MTU
 * (underlay - 50) is set for an IPv4 outer header, so a packet needs 20 bytes more room than
 * the MTU says; GSO: each TCP or UDP segment (anything else GSO does not fit here). */
static __always_inline int fits_ipv6_tunnel(struct __sk_buff* skb, const struct packet* pkt,
                                            const struct ipv6_upper* upper, __u32 ifindex) {
    __u32 mtu = 0; /* in: 0 = use skb->len; out: the device's MTU */
    __u32 l3_len = (upper->offset - ETH_HLEN) & 0x7FF, l4_len;
    __u8* doff;

    if (bpf_check_mtu(skb, ifindex, &mtu, IPV6_TUNNEL_EXTRA, 0) != 0)
        return 0;
    if (skb->gso_size == 0)
        return 1;
    if (upper->protocol == IPPROTO_TCP) {
        doff = packet_at(pkt, (upper->offset & 0x7FF) + 12, 1);
        if (!doff)
            return 0;
        l4_len = (*doff >> 4) * 4;
    } else if (upper->protocol == IPPROTO_UDP) {
        l4_len = sizeof(struct udphdr);
    } else {
        return 0;
    }
    return skb->gso_size + l3_len + l4_len + IPV6_TUNNEL_EXTRA <= mtu;
}

/* The VNI and outer source of an IPv6 tunnel packet. Fails (non-zero) for an IPv4 outer
 * header or none. The helper gives remote_ipv6 in network order. */
static __always_inline long tunnel_key6_of(struct __sk_buff* skb, struct bpf_tunnel_key* key) {
    return bpf_skb_get_tunnel_key(skb, key, sizeof(*key), BPF_F_TUNINFO_IPV6);
}

static __always_inline int has_tunnel_key6(struct __sk_buff* skb) {
    struct bpf_tunnel_key key;

    return tunnel_key6_of(skb, &key) == 0;
}

#endif
