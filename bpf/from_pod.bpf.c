// Placeholder until the datapath lands: passes every packet to the host stack.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
