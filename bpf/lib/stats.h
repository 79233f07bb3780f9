/* Counting every verdict, and reporting drops on the events ring buffer. */
#ifndef SHUTTLE_LIB_STATS_H
#define SHUTTLE_LIB_STATS_H

#include "lib/ipv6.h"
#include "lib/maps.h"
#include "lib/parsing.h"

static __always_inline void count(struct __sk_buff* skb, __u32 key) {
    struct shuttle_stat* stat = bpf_map_lookup_elem(&stats, &key);

    if (stat) {
        stat->packets++;
        stat->bytes += skb->len;
    }
}

static __always_inline int pass(struct __sk_buff* skb, enum shuttle_pass_reason reason) {
    count(skb, SHUTTLE_STAT_KEY(SHUTTLE_VERDICT_PASS, reason));
    return TC_ACT_OK;
}

/* Best effort: a full ring buffer loses the event, never the verdict. */
static __noinline void report_event(struct __sk_buff* skb, __u32 type, __u32 key) {
    struct packet pkt = packet_of(skb);
    struct shuttle_event* event;
    struct ethhdr* eth;
    struct iphdr* iph;
    struct ipv6hdr* ip6;

    event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
    if (!event)
        return;
    __builtin_memset(event, 0, sizeof(*event));
    event->timestamp_ns = bpf_ktime_get_ns();
    event->type = type;
    event->stat_key = key;
    event->ifindex = skb->ifindex;
    event->len = skb->len;
    eth = parse_eth(&pkt);
    if (eth) {
        mac_copy(event->smac, eth->h_source);
        mac_copy(event->dmac, eth->h_dest);
        event->eth_proto = eth->h_proto;
        if (eth->h_proto == bpf_htons(ETH_P_IP)) {
            iph = parse_ipv4(&pkt);
            if (iph) {
                event->saddr = iph->saddr;
                event->daddr = iph->daddr;
                event->ip_proto = iph->protocol;
                event->ttl = iph->ttl;
            }
        } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
            ip6 = parse_ipv6(&pkt);
            if (ip6) {
                ipv6_copy(event->saddr6, &ip6->saddr);
                ipv6_copy(event->daddr6, &ip6->daddr);
                event->ip_proto = ip6->nexthdr;
                event->ttl = ip6->hop_limit;
            }
        }
    }
    bpf_ringbuf_submit(event, 0);
}

static __always_inline int drop(struct __sk_buff* skb, enum shuttle_drop_reason reason) {
    __u32 key = SHUTTLE_STAT_KEY(SHUTTLE_VERDICT_DROP, reason);

    count(skb, key);
    report_event(skb, SHUTTLE_EVENT_DROP, key);
    return TC_ACT_SHOT;
}

static __always_inline void count_redirect(struct __sk_buff* skb,
                                           enum shuttle_redirect_reason reason) {
    count(skb, SHUTTLE_STAT_KEY(SHUTTLE_VERDICT_REDIRECT, reason));
}

/* Out of line: the untraced path pays only forwarded()'s test of cfg->flags. */
static __noinline void trace_forwarded(struct __sk_buff* skb, __u32 key, __u32 sample,
                                       __u32 until) {
    if (until != 0 && (bpf_ktime_get_ns() >> SHUTTLE_TRACE_CLOCK_SHIFT) > until)
        return; /* the monitor that asked for it has stopped renewing */
    if (sample > 1 && bpf_get_prandom_u32() % sample != 0)
        return;
    report_event(skb, SHUTTLE_EVENT_TRACE, key);
}

/* A packet BPF forwards (local redirect, encap, decap): counted, and traced while
 * shuttlectl monitor --trace runs. The frame is reported as it leaves (MACs and TTL
 * rewritten). */
static __always_inline void forwarded(struct __sk_buff* skb, enum shuttle_redirect_reason reason,
                                      const struct shuttle_config* cfg) {
    __u32 key = SHUTTLE_STAT_KEY(SHUTTLE_VERDICT_REDIRECT, reason);

    count(skb, key);
    if (cfg->flags & SHUTTLE_CONFIG_F_TRACE)
        trace_forwarded(skb, key, cfg->trace_sample, cfg->trace_until);
}

#endif
