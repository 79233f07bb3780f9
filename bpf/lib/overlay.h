/* The VXLAN overlay: finding the node behind a remote pod address and handing a packet to
 * the collect_md device with the tunnel metadata flannel's peers expect (VNI, UDP 8472 from
 * the device, inner MACs from our VtepMAC to theirs). */
#ifndef SHUTTLE_LIB_OVERLAY_H
#define SHUTTLE_LIB_OVERLAY_H

#include "lib/maps.h"
#include "lib/parsing.h"

#define PACKET_HOST 0
#ifndef SHUTTLE_TUNNEL_TTL    /* the tests' second build of the programs changes it (-D) */
#define SHUTTLE_TUNNEL_TTL 64 /* the kernel's IPDEFTTL, as a flannel.1 device sends */
#endif

/* The node whose subnet holds `addr` (network order), or NULL. Every lease has the node
 * subnet's length: the subnet's slot in the cluster network indexes route_slots, or, for
 * layouts with more than 2^16 subnets, one hash lookup on the masked address finds it. */
static __always_inline struct shuttle_route* route_of(__be32 addr,
                                                      const struct shuttle_config* cfg) {
    __u32 len = cfg->node_subnet_len, cluster_len = cfg->cluster_len;
    struct shuttle_route_key key;
    struct shuttle_route* route;
    __u32 slot;

    if (len == 0 || len > 32 || cluster_len == 0 || cluster_len > len)
        return NULL;
    if (len - cluster_len <= SHUTTLE_ROUTE_SLOT_BITS) {
        if (!in_prefix(addr, cfg->cluster_network, cluster_len))
            return NULL;
        slot = (bpf_ntohl(addr) - bpf_ntohl(cfg->cluster_network)) >> (32 - len);
        if (slot >= SHUTTLE_MAX_ROUTE_SLOTS)
            return NULL;
        route = bpf_map_lookup_elem(&route_slots, &slot);
        return route && route->underlay_ip ? route : NULL;
    }
    key.subnet = addr & bpf_htonl(0xFFFFFFFFu << (32 - len));
    key.prefix_len = len;
    return bpf_map_lookup_elem(&routes, &key);
}

/* Is `addr` (network order) the underlay address of a node in the routes map? */
static __always_inline int is_node(__be32 addr) {
    return bpf_map_lookup_elem(&underlay_nodes, &addr) != NULL;
}

/* May the node at `outer_src` send a packet from `inner_src` (both network order)? -1 when
 * it may: the inner source's lease names that node, or the inner source is the node's own
 * underlay address (its reply to a pod of ours that reached it without masquerading, which
 * its routes send through the tunnel). Otherwise the drop reason: the outer source is no
 * node at all, or a node sending from outside its own subnet. The common case costs one
 * route_slots access; only the rest pays the hash lookup. */
static __always_inline int tunnel_sender_check(__be32 outer_src, __be32 inner_src,
                                               const struct shuttle_config* cfg) {
    struct shuttle_route* route = route_of(inner_src, cfg);

    if (route && route->underlay_ip == outer_src)
        return -1;
    if (!is_node(outer_src))
        return SHUTTLE_DROP_UNKNOWN_NODE;
    return inner_src == outer_src ? -1 : SHUTTLE_DROP_FORGED_INNER_SRC;
}

/* Ethernet header of a packet into the tunnel: from our VTEP to the remote one, which is
 * what a flannel peer's device checks (it takes frames for its own MAC only). */
static __always_inline void rewrite_overlay_macs(struct ethhdr* eth,
                                                 const struct shuttle_route* route,
                                                 const struct shuttle_config* cfg) {
    mac_copy(eth->h_dest, route->vtep_mac);
    mac_copy(eth->h_source, cfg->vtep_mac);
}

/* The collect_md device's instructions: outer destination, VNI, TTL, and our underlay
 * address as the outer source (0 lets the kernel's route choose). No outer UDP checksum,
 * as the kernel's VXLAN device sends by default for IPv4. 0 or a negative errno. */
static __always_inline long set_tunnel(struct __sk_buff* skb, const struct shuttle_route* route,
                                       const struct shuttle_config* cfg) {
    struct bpf_tunnel_key key = {};

    key.tunnel_id = route->vni;
    key.remote_ipv4 = bpf_ntohl(route->underlay_ip); /* the helper wants host order */
    key.local_ipv4 = bpf_ntohl(cfg->underlay_ip);
    key.tunnel_ttl = SHUTTLE_TUNNEL_TTL;
    return bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_ZERO_CSUM_TX);
}

/* What a decapsulating device knew of a packet: its VNI and outer source. */
struct tunnel_info {
    __s64 vni;        /* -1 without tunnel metadata */
    __be32 outer_src; /* network order */
};

static __always_inline struct tunnel_info tunnel_info_of(struct __sk_buff* skb) {
    struct tunnel_info info = {.vni = -1};
    struct bpf_tunnel_key key;

    if (bpf_skb_get_tunnel_key(skb, &key, sizeof(key), 0) == 0) {
        info.vni = key.tunnel_id;
        info.outer_src = bpf_htonl(key.remote_ipv4); /* the helper gives host order */
    }
    return info;
}

/* The VNI of a decapsulated packet, or -1 without tunnel metadata. */
static __always_inline __s64 tunnel_vni(struct __sk_buff* skb) {
    return tunnel_info_of(skb).vni;
}

static __always_inline int has_tunnel_key(struct __sk_buff* skb) {
    return tunnel_vni(skb) >= 0;
}

#endif
