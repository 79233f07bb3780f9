/* Benchmark wrapper of from-pod for BPF_PROG_TEST_RUN with a large repeat count.
 *
 * Test-run hands the same skb to every repetition, and from-pod rewrites it (TTL, MACs, ARP
 * reply), so a plain repeat would measure the TTL-expired path after 63 rounds. Each
 * repetition here first restores the pristine packet from `bench_packet`; restore_only
 * measures that restore alone, so the difference is from-pod's cost. Never attached. */
#include "from_pod.bpf.c"

__u8 bench_packet[128];
__u32 bench_len;

static __always_inline int restore_packet(struct __sk_buff* skb) {
    __u32 len = bench_len & (sizeof(bench_packet) - 1); /* bounded for the verifier */

    if (len == 0)
        return -1;
    return bpf_skb_store_bytes(skb, 0, bench_packet, len, 0);
}

SEC("tc")
int restore_only(struct __sk_buff* skb) {
    return restore_packet(skb) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc")
int restore_then_from_pod(struct __sk_buff* skb) {
    if (restore_packet(skb))
        return TC_ACT_SHOT;
    return from_pod_verdict(skb);
}

/* Pieces of from_pod, each after the same restore, for a profile of where the time goes. */
SEC("tc")
int piece_count(struct __sk_buff* skb) {
    if (restore_packet(skb))
        return TC_ACT_SHOT;
    count(skb, SHUTTLE_STAT_KEY(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NOT_LOCAL));
    return TC_ACT_OK;
}

SEC("tc")
int piece_config_lookup(struct __sk_buff* skb) {
    if (restore_packet(skb))
        return TC_ACT_SHOT;
    return config_of_node() ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int piece_endpoint_lookup(struct __sk_buff* skb) {
    struct shuttle_config* cfg;

    if (restore_packet(skb))
        return TC_ACT_SHOT;
    cfg = config_of_node();
    return cfg && endpoint_of(bpf_htonl(0x0af40103), cfg) ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int piece_nat_lookup(struct __sk_buff* skb) {
    if (restore_packet(skb))
        return TC_ACT_SHOT;
    return is_nat_pair(bpf_htonl(0x0af40102), bpf_htonl(0x0af40103)) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc")
int piece_redirect_peer(struct __sk_buff* skb) {
    if (restore_packet(skb))
        return TC_ACT_SHOT;
    return bpf_redirect_peer(42, 0);
}
