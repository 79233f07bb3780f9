/* Benchmark and test wrappers of the datapath programs for BPF_PROG_TEST_RUN, built into the
 * tests' own object `probes` (never attached, never installed).
 *
 * Benchmarks run with a large repeat count.
 *
 * Test-run hands the same skb to every repetition, and from-pod rewrites it (TTL, MACs, ARP
 * reply), so a plain repeat would measure the TTL-expired path after 63 rounds. Each
 * repetition here first restores the pristine packet from `bench_packet`; restore_only
 * measures that restore alone, so the difference is from-pod's cost.
 *
 * Test-run cannot show tunnel metadata (it is not packet data): the *_read_key probes run a
 * program, then read the skb's tunnel key back into `probe_key`. */
/* One translation unit with the product's program files, for their static verdict functions. */
#include "pod.bpf.c"
#include "overlay.bpf.c"
#include "underlay.bpf.c"

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

/* ---- overlay: tests ---------------------------------------------------------------------- */
struct bpf_tunnel_key probe_key;
__s32 probe_key_rc = 1; /* 1: not read yet; else bpf_skb_get_tunnel_key's result */
__u32 probe_vni;        /* the VNI a decapsulated test packet came with */

static __always_inline void read_back_key(struct __sk_buff* skb) {
    probe_key_rc = bpf_skb_get_tunnel_key(skb, &probe_key, sizeof(probe_key), 0);
}

SEC("tc")
int from_pod_then_read_key(struct __sk_buff* skb) {
    int verdict = from_pod_verdict(skb);

    read_back_key(skb);
    return verdict;
}

SEC("tc")
int to_overlay_then_read_key(struct __sk_buff* skb) {
    int verdict = to_overlay_program(skb);

    read_back_key(skb);
    return verdict;
}

__u32 probe_outer_src = 0xc0a80002; /* host order: node 2 of the tests */

/* Gives the packet the metadata a decapsulating device would (VNI probe_vni, outer source
 * probe_outer_src), then runs from_overlay as attached. The setter fills the transmit
 * direction: its local_ipv4 is what bpf_skb_get_tunnel_key reports as the remote. */
static __always_inline struct tunnel_info arrive_with_vni(struct __sk_buff* skb) {
    struct bpf_tunnel_key key = {.tunnel_id = probe_vni, .local_ipv4 = probe_outer_src};
    struct tunnel_info none = {.vni = -1};

    if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0) != 0)
        return none;
    return tunnel_info_of(skb);
}

SEC("tc")
int from_overlay_with_vni(struct __sk_buff* skb) {
    struct tunnel_info tunnel = arrive_with_vni(skb);

    if (tunnel.vni < 0)
        return TC_ACT_SHOT;
    return from_overlay_verdict(skb, tunnel);
}

/* IPv6 outer source (network order) of from_overlay_with_key6: fd77::12, node 2 of the tests. */
__u32 probe_outer_src6[4] = {bpf_htonl(0xfd770000), 0, 0, bpf_htonl(0x12)};
__u32 probe_outer_ipv4; /* non-zero: the IPv6 packet arrives in an IPv4 outer header */

/* As from_overlay_with_vni for an IPv6 outer header (VNI probe_vni, source probe_outer_src6),
 * then from_overlay as attached (which reads the key itself). */
SEC("tc")
int from_overlay_with_key6(struct __sk_buff* skb) {
    struct bpf_tunnel_key key = {.tunnel_id = probe_vni};
    __u64 flags = BPF_F_TUNINFO_IPV6;

    if (probe_outer_ipv4) {
        key.local_ipv4 = probe_outer_src;
        flags = 0;
    } else {
        __builtin_memcpy(key.local_ipv6, probe_outer_src6, sizeof(key.local_ipv6));
    }
    if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), flags) != 0)
        return TC_ACT_SHOT;
    return from_overlay_verdict(skb, tunnel_info_of(skb));
}

/* Gives the packet tunnel metadata first, as from_pod does before its redirect. */
SEC("tc")
int to_overlay_after_from_pod(struct __sk_buff* skb) {
    if (arrive_with_vni(skb).vni < 0)
        return TC_ACT_SHOT;
    return to_overlay_program(skb);
}

/* ---- IPv6 overlay (device path) ----------------------------------------------------------
 * The IPv6 tunnel key, read back with its flags (TUNNEL_CSUM: the outer UDP checksum). */
struct bpf_tunnel_key probe_key6;
__s32 probe_key6_rc = 1;

SEC("tc")
int from_pod_then_read_key6(struct __sk_buff* skb) {
    int verdict = from_pod_verdict(skb);

    probe_key6_rc = bpf_skb_get_tunnel_key(skb, &probe_key6, sizeof(probe_key6),
                                           BPF_F_TUNINFO_IPV6 | BPF_F_TUNINFO_FLAGS);
    return verdict;
}

/* ---- overlay: benchmarks ------------------------------------------------------------------
 * Test-run keeps one skb for all repetitions, and tunnel metadata is not restored with the
 * bytes: the first repetition's metadata stays. */
SEC("tc")
int restore_then_from_overlay(struct __sk_buff* skb) {
    struct tunnel_info tunnel;

    if (restore_packet(skb))
        return TC_ACT_SHOT;
    tunnel = tunnel_info_of(skb); /* what from_overlay pays for every packet */
    /* The first repetition, and any after another program replaced the metadata: the setter
     * fills this CPU's one metadata dst, which the skb only points at, so any other
     * bpf_skb_set_tunnel_key on that CPU meanwhile (a datapath encapsulating beside the
     * benchmark, another test run) overwrites it. */
    if (tunnel.vni != probe_vni || tunnel.outer_src != bpf_htonl(probe_outer_src))
        tunnel = arrive_with_vni(skb);
    return from_overlay_verdict(skb, tunnel);
}

/* A host packet: the check for a tunnel key (none) plus the route lookup and encap. The
 * check runs on a key-less skb in piece_no_tunnel_key; here the key of the previous
 * repetition would end it early, so only the rest is run. */
SEC("tc")
int restore_then_to_overlay_verdict(struct __sk_buff* skb) {
    if (restore_packet(skb))
        return TC_ACT_SHOT;
    return to_overlay_verdict(skb);
}

/* A packet from_pod encapsulated: the first repetition sets the key (the whole host path),
 * every later one finds it. */
SEC("tc")
int restore_then_to_overlay(struct __sk_buff* skb) {
    if (restore_packet(skb))
        return TC_ACT_SHOT;
    return to_overlay_program(skb);
}

SEC("tc")
int piece_no_tunnel_key(struct __sk_buff* skb) {
    if (restore_packet(skb))
        return TC_ACT_SHOT;
    return has_tunnel_key(skb) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc")
int piece_route_lookup(struct __sk_buff* skb) {
    struct shuttle_config* cfg;

    if (restore_packet(skb))
        return TC_ACT_SHOT;
    cfg = config_of_node();
    return cfg && route_of(bpf_htonl(0x0af40203), cfg) ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int piece_set_tunnel_key(struct __sk_buff* skb) {
    struct shuttle_route route = {.underlay_ip = bpf_htonl(0xc0a80002), .vni = 1};
    struct shuttle_config* cfg;

    if (restore_packet(skb))
        return TC_ACT_SHOT;
    cfg = config_of_node();
    return cfg && set_tunnel(skb, &route, cfg) == 0 ? TC_ACT_OK : TC_ACT_SHOT;
}

/* ---- direct overlay: tests and benchmarks ---------------------------------------------- */
__u32 probe_hash; /* the flow hash test-run gives a packet (bpf_get_hash_recalc) */

SEC("tc")
int read_flow_hash(struct __sk_buff* skb) {
    probe_hash = bpf_get_hash_recalc(skb);
    return TC_ACT_OK;
}

/* The restore for programs that change the packet's length (encapsulation +50, strip -50):
 * back to bench_len first, then the bytes. bpf_skb_adjust_room without ENCAP flags, so the
 * skb is never marked encapsulated (see vxlan_room_flags). */
static __always_inline int restore_resized_packet(struct __sk_buff* skb) {
    __s32 diff = (__s32)bench_len - (__s32)skb->len;

    if (diff != 0 && bpf_skb_adjust_room(skb, diff, BPF_ADJ_ROOM_MAC, 0) != 0)
        return -1;
    return restore_packet(skb);
}

SEC("tc")
int restore_resized_then_from_pod(struct __sk_buff* skb) {
    if (restore_resized_packet(skb))
        return TC_ACT_SHOT;
    return from_pod_verdict(skb);
}

SEC("tc")
int restore_resized_then_from_underlay(struct __sk_buff* skb) {
    if (restore_resized_packet(skb))
        return TC_ACT_SHOT;
    return from_underlay_verdict(skb);
}

/* What one length change of the restore costs: grow and shrink back by VXLAN_ENCAP_LEN,
 * then the bytes. Half the difference to restore_only is subtracted with it. */
SEC("tc")
int resize_twice_then_restore(struct __sk_buff* skb) {
    if (bpf_skb_adjust_room(skb, VXLAN_ENCAP_LEN, BPF_ADJ_ROOM_MAC, 0) != 0 ||
        bpf_skb_adjust_room(skb, -VXLAN_ENCAP_LEN, BPF_ADJ_ROOM_MAC, 0) != 0)
        return TC_ACT_SHOT;
    return restore_packet(skb) ? TC_ACT_SHOT : TC_ACT_OK;
}

/* Pieces of the direct encapsulation, each after the same restore. */
SEC("tc")
int piece_check_mtu(struct __sk_buff* skb) {
    __u32 mtu = 0;

    if (restore_packet(skb))
        return TC_ACT_SHOT;
    return bpf_check_mtu(skb, 1, &mtu, VXLAN_ENCAP_LEN, 0) == 0 ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int piece_flow_hash(struct __sk_buff* skb) {
    if (restore_packet(skb))
        return TC_ACT_SHOT;
    return bpf_get_hash_recalc(skb) ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int piece_prandom(struct __sk_buff* skb) {
    if (restore_packet(skb))
        return TC_ACT_SHOT;
    return bpf_get_prandom_u32() ? TC_ACT_OK : TC_ACT_SHOT;
}

/* The 50 header bytes written and summed, without the helper calls (at offset 0: the
 * restored packet is shorter than the encapsulated one). */
SEC("tc")
int piece_fill_headers(struct __sk_buff* skb) {
    struct shuttle_route route = {.underlay_ip = bpf_htonl(0xc0a80002), .vni = 1};
    struct shuttle_config* cfg;
    struct packet pkt;
    struct vxlan_encap* h;

    if (restore_packet(skb))
        return TC_ACT_SHOT;
    cfg = config_of_node();
    pkt = packet_of(skb);
    h = packet_at(&pkt, 0, VXLAN_ENCAP_LEN);
    if (!cfg || !h)
        return TC_ACT_SHOT;
    vxlan_fill(h, 100, 0, 12345, &route, cfg);
    return TC_ACT_OK;
}
