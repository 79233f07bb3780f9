/* Finding a pod of this node by address: an array slot per address of the node subnet. */
#ifndef SHUTTLE_LIB_ENDPOINTS_H
#define SHUTTLE_LIB_ENDPOINTS_H

#include <bpf/bpf_endian.h>

#include "lib/maps.h"

static __always_inline struct shuttle_config* config_of_node(void) {
    __u32 zero = 0;
    struct shuttle_config* cfg = bpf_map_lookup_elem(&node_config, &zero);

    return cfg && cfg->layout_version ? cfg : NULL;
}

/* The pod owning `addr` (network order), or NULL. */
static __always_inline struct shuttle_endpoint* endpoint_of(__be32 addr,
                                                            const struct shuttle_config* cfg) {
    __u32 index = bpf_ntohl(addr) - bpf_ntohl(cfg->node_subnet);
    struct shuttle_endpoint* ep;

    if (index >= SHUTTLE_MAX_ENDPOINTS)
        return NULL;
    ep = bpf_map_lookup_elem(&endpoints, &index);
    if (!ep || ep->ifindex == 0 || ep->pod_ip != addr)
        return NULL;
    return ep;
}

/* The pod that may send from `addr` through the veth the packet came in on, or NULL. */
static __always_inline struct shuttle_endpoint* sender_of(struct __sk_buff* skb, __be32 addr,
                                                          const struct shuttle_config* cfg) {
    struct shuttle_endpoint* ep = endpoint_of(addr, cfg);

    return ep && ep->ifindex == skb->ifindex ? ep : NULL;
}

#endif
