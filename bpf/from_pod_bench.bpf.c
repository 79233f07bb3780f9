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
