/* Keeping NATed flows (kube-proxy Services) on the host stack path, so conntrack can reverse
 * the NAT on replies. See struct shuttle_nat_pair in shuttle_abi.h for the reasoning. */
#ifndef SHUTTLE_LIB_NAT_H
#define SHUTTLE_LIB_NAT_H

#include "lib/endpoints.h"
#include "lib/maps.h"
#include "lib/parsing.h"

/* Load-time switch, only for measuring the Services check's cost (bench). Weak, as the
 * maps are (lib/maps.h): every program file of the object defines it, the linker keeps one. */
const volatile __u32 nat_check_enabled __weak = 1;

/* Must `pod`'s packet to `peer` take the stack path? */
static __always_inline int is_nat_pair(__be32 pod, __be32 peer) {
    struct shuttle_nat_pair key = {.pod = pod, .peer = peer};

    return bpf_map_lookup_elem(&nat_pairs, &key) != NULL;
}

/* The stack delivered a packet from `peer` to `pod`. */
static __always_inline void remember_nat_pair(__be32 pod, __be32 peer) {
    struct shuttle_nat_pair key = {.pod = pod, .peer = peer};
    struct shuttle_nat_seen* seen = bpf_map_lookup_elem(&nat_pairs, &key);
    struct shuttle_nat_seen fresh = {.last_seen_ns = bpf_ktime_get_ns()};

    if (seen) {
        seen->last_seen_ns = fresh.last_seen_ns;
        return;
    }
    bpf_map_update_elem(&nat_pairs, &key, &fresh, BPF_ANY);
}

/* The stack delivered a packet from `peer` to `pod`, or sent `pod`'s packet to `peer`
 * itself: a flow the stack may NAT, whose other direction must take the stack path too. */
static __always_inline void remember_stack_flow(__be32 pod_addr, __be32 peer,
                                                const struct shuttle_config* cfg) {
    struct shuttle_endpoint* pod;

    remember_nat_pair(pod_addr, peer);
    pod = endpoint_of(pod_addr, cfg);
    if (pod && !(pod->flags & SHUTTLE_EP_F_NAT_PEERS))
        pod->flags |= SHUTTLE_EP_F_NAT_PEERS; /* racing writers all set the same bit */
}

#endif
