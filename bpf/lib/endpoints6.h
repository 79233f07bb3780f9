/* Finding an IPv6 pod of this node by address: an array slot for the addresses sharing the
 * node's IPv6 subnet's first 112 bits, the hash endpoints6_hash for any other (shuttle_abi.h).
 * One lookup either way. */
#ifndef SHUTTLE_LIB_ENDPOINTS6_H
#define SHUTTLE_LIB_ENDPOINTS6_H

#include <bpf/bpf_endian.h>

#include "lib/ipv6.h"
#include "lib/maps.h"

static __always_inline struct shuttle_config6* config6_of_node(void) {
    __u32 zero = 0;
    struct shuttle_config6* cfg = bpf_map_lookup_elem(&node_config6, &zero);

    return cfg && cfg->layout_version ? cfg : NULL;
}

/* Does `addr` have a slot in endpoints6, i.e. share the subnet's first 112 bits? */
static __always_inline int endpoint6_has_slot(const void* addr, const struct shuttle_config6* cfg) {
    const __u32* a = addr;
    const __u32* s = (const __u32*)cfg->node_subnet;

    return a[0] == s[0] && a[1] == s[1] && a[2] == s[2] &&
           *(const __u16*)(a + 3) == *(const __u16*)(s + 3);
}

/* The pod owning `addr` (16 bytes, network order), or NULL. */
static __always_inline struct shuttle_endpoint6* endpoint6_of(const void* addr,
                                                              const struct shuttle_config6* cfg) {
    struct shuttle_endpoint6* ep;

    if (endpoint6_has_slot(addr, cfg)) {
        __u32 index = bpf_ntohs(*(const __u16*)((const __u8*)addr + 14));

        ep = bpf_map_lookup_elem(&endpoints6, &index);
    } else {
        struct shuttle_ip6 key;

        ipv6_copy(key.addr, addr);
        ep = bpf_map_lookup_elem(&endpoints6_hash, &key);
    }
    if (!ep || ep->ifindex == 0 || !ipv6_equal(ep->pod_ip, addr))
        return NULL;
    return ep;
}

/* The pod that may send from `addr` through the veth the packet came in on, or NULL. */
static __always_inline struct shuttle_endpoint6* sender6_of(struct __sk_buff* skb, const void* addr,
                                                            const struct shuttle_config6* cfg) {
    struct shuttle_endpoint6* ep = endpoint6_of(addr, cfg);

    return ep && ep->ifindex == skb->ifindex ? ep : NULL;
}

/* as nat.h's, for IPv6 pairs */
static __always_inline int is_nat_pair6(const void* pod, const void* peer) {
    struct shuttle_nat_pair6 key;

    ipv6_copy(key.pod, pod);
    ipv6_copy(key.peer, peer);
    return bpf_map_lookup_elem(&nat_pairs6, &key) != NULL;
}

/* The stack delivered a packet from `peer` to the local pod `pod_addr`: a flow the stack may
 * NAT, whose replies must take the stack path too (see to_pod). */
static __always_inline void remember_stack_flow6(const void* pod_addr, const void* peer,
                                                 const struct shuttle_config6* cfg) {
    struct shuttle_nat_seen fresh = {.last_seen_ns = bpf_ktime_get_ns()};
    struct shuttle_endpoint6* pod;
    struct shuttle_nat_pair6 key;
    struct shuttle_nat_seen* seen;

    ipv6_copy(key.pod, pod_addr);
    ipv6_copy(key.peer, peer);
    seen = bpf_map_lookup_elem(&nat_pairs6, &key);
    if (seen)
        seen->last_seen_ns = fresh.last_seen_ns;
    else
        bpf_map_update_elem(&nat_pairs6, &key, &fresh, BPF_ANY);
    pod = endpoint6_of(pod_addr, cfg);
    if (pod && !(pod->flags & SHUTTLE_EP_F_NAT_PEERS))
        pod->flags |= SHUTTLE_EP_F_NAT_PEERS; /* racing writers all set the same bit */
}

#endif
