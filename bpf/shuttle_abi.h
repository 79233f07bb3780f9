/* shuttle's BPF ABI: every struct and constant shared by the BPF programs and userspace.
 *
 * Included by BPF C (after vmlinux.h) and by C++ (which gets the __u32 family from
 * <linux/types.h>). Addresses are stored in network byte order, MACs as 6 raw bytes.
 *
 * Layouts are fixed for SHUTTLE_LAYOUT_VERSION. A change to any struct below, to a map's
 * type or to its max_entries needs a new layout version: pins live under
 * <bpffs root>/v<version>/, so a build never reads a map pinned with another layout.
 */
#ifndef SHUTTLE_ABI_H
#define SHUTTLE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef SHUTTLE_LAYOUT_VERSION /* tests build a second object with another (-D) */
#define SHUTTLE_LAYOUT_VERSION 1
#endif

#define SHUTTLE_MAX_ENDPOINTS 65536 /* node subnets up to a /16 */
#define SHUTTLE_MAX_ROUTES 16384
#define SHUTTLE_EVENTS_BYTES (256 * 1024)

/* ---- endpoints: the pods of this node, by address --------------------------------------
 * An ARRAY indexed by the pod address's offset in the node subnet (host order: address -
 * node_config.node_subnet), so a lookup is an inlined array access instead of a hash. Every
 * pod address comes from the node subnet (flannel's FLANNEL_SUBNET). The same entry serves
 * the destination lookup (redirect) and the sender check (anti-spoofing: the packet's source
 * address must name the ingress veth and the source MAC). ifindex 0 = empty slot.
 * (IPv6 has its own maps: endpoints6 and endpoints6_hash, below.) */
#define SHUTTLE_EP_F_NONE 0u
#define SHUTTLE_EP_F_NAT_PEERS 1u /* to_pod saw the stack deliver cluster traffic to this pod */

#define SHUTTLE_ATTACH_NONE 0u
#define SHUTTLE_ATTACH_TCX 1u
#define SHUTTLE_ATTACH_TC 2u

struct shuttle_endpoint {
    __u32 ifindex;     /* host-side veth: the sender's ingress, the target of bpf_redirect_peer */
    __u32 pod_ip;      /* network order; node_subnet + index, checked on every lookup */
    __u8 pod_mac[6];   /* the pod's eth0: the only source MAC it may use; dst MAC on rewrite */
    __u8 host_mac[6];  /* the host veth: src MAC on rewrite, the answer to the pod's ARP */
    __u32 flags;       /* SHUTTLE_EP_F_*, set by BPF */
    __u32 attach_mode; /* SHUTTLE_ATTACH_*: how userspace attached the programs */
    __u32 reserved;
};

/* ---- endpoint_meta: pod IPv4 -> names, for humans (never read by BPF) --------------------- */
struct shuttle_endpoint_meta {
    char container_id[72];
    char ifname[16];      /* inside the pod */
    char host_ifname[16]; /* host side */
    char pod_namespace[64];
    char pod_name[128];
};

/* ---- nat_pairs: pod pairs whose flows the host stack NATs (kube-proxy Services) ---------
 * Written by to_pod (tc egress of the host veth) for every packet the stack delivers to a
 * pod from another cluster address: plain pod-to-pod packets never take that path, so such a
 * packet belongs to a NATed flow (or to the fallback path). from_pod sends replies of such
 * pairs (key: {pod that received, address it came from}) to the stack, so conntrack can
 * reverse the NAT. LRU: an evicted pair only costs a fast path for a non-NAT pair. */
struct shuttle_nat_pair {
    __u32 pod;  /* the local pod that received the stack-delivered packet, network order */
    __u32 peer; /* its source address, network order */
};

struct shuttle_nat_seen {
    __u64 last_seen_ns; /* bpf_ktime_get_ns() of the latest such packet */
#ifdef SHUTTLE_TEST_LAYOUT_BUMP
    /* Only in the tests' layout-bump object (tests/CMakeLists.txt): a changed struct, which
     * the upgrade converts (tests/support/other_build.h). Never in a shipped build. */
    __u64 test_first_seen_ns;
#endif
};

#define SHUTTLE_MAX_NAT_PAIRS 65536

/* ---- routes: remote pod subnet -> remote node (filled by the cluster agent) ------------
 * A hash, not an LPM trie: flannel's subnets all have one length, so the lookup key is the
 * destination masked with node_config.node_subnet_len (and that length). */
struct shuttle_route_key {
    __u32 subnet;     /* masked subnet address, network order */
    __u32 prefix_len; /* host order */
};

#define SHUTTLE_ROUTE_F_NONE 0u
#define SHUTTLE_ROUTE_F_DIRECT \
    1u /* same L2 underlay: route without encap (flannel DirectRouting) */

struct shuttle_route {
    __u32 underlay_ip; /* remote node's public IP, network order: the VXLAN outer destination */
    __u8 vtep_mac[6];  /* remote VTEP MAC: the inner Ethernet destination */
    __u16 reserved0;
    __u32 vni;   /* host order */
    __u32 flags; /* SHUTTLE_ROUTE_F_* */
};

/* ---- route_slots: the routes map as an array, for the packet path -----------------------
 * Index = the offset of the destination's subnet in the cluster network,
 * (ntohl(dst) - ntohl(cluster_network)) >> (32 - node_subnet_len), usable when
 * node_subnet_len - cluster_len <= SHUTTLE_ROUTE_SLOT_BITS (flannel's default /16 network
 * of /24 leases needs 256 slots). Values as in `routes`; underlay_ip 0 = no node there.
 * An inlined array access (~2 ns) where a hash lookup costs ~25-30 ns per packet. Userspace
 * keeps it equal to `routes` (set_routes, every node_config change, every load); `routes`
 * stays the record userspace reads, and the lookup of the wider layouts. */
#define SHUTTLE_ROUTE_SLOT_BITS 16
#define SHUTTLE_MAX_ROUTE_SLOTS (1u << SHUTTLE_ROUTE_SLOT_BITS)

/* ---- underlay_nodes: the routes map's nodes by underlay address -------------------------
 * Key: a node's underlay IP (network order); value: how many leases of the routes map name
 * it. Userspace keeps it in line with `routes` (set_routes). The packet path reads it only to
 * name a refused tunnel packet: unknown-node (no node there) or forged-inner-src. A map new
 * next to layout 1's (older pins lack it; the load creates it). */
#define SHUTTLE_MAX_UNDERLAY_NODES SHUTTLE_MAX_ROUTES

/* ---- peers6: the other nodes' IPv6 halves by PublicIPv6 (filled by shuttled) ------------
 * Key: a node's PublicIPv6 (struct shuttle_ip6), the outer source of its IPv6 tunnel
 * packets; value: its IPv6 pod subnet. from_overlay takes an IPv6 tunnel packet only from a
 * key (else unknown-node) and only with an inner source in that node's subnet or the node's
 * PublicIPv6 itself (else forged-inner-src). A map new next to layout 1's. */
struct shuttle_peer6 {
    __u8 subnet[16];  /* network order */
    __u32 subnet_len; /* host order */
    __u32 reserved;
};

#define SHUTTLE_MAX_PEERS6 SHUTTLE_MAX_ROUTES

/* ---- node_config: one entry (key 0), written by userspace ------------------------------------ */
struct shuttle_config {
    __u32 layout_version;  /* SHUTTLE_LAYOUT_VERSION of the writer */
    __u32 flags;           /* SHUTTLE_CONFIG_F_*, set by shuttlectl while it runs */
    __u32 node_subnet;     /* this node's pod subnet, network order */
    __u32 node_subnet_len; /* host order; also the length of every routes key */
    __u32 gateway;         /* the pods' gateway, network order */
    __u32 cluster_network; /* the whole cluster network, network order */
    __u32 cluster_len;     /* host order; 0 = unset (answer ARP only for the gateway) */
    __u32 vxlan_ifindex;   /* collect-md VXLAN device, 0 = none */
    __u32 vni;             /* host order */
    __u8 vtep_mac[6];      /* this node's VTEP MAC (the inner source MAC) */
    __u16 vxlan_port;      /* VXLAN UDP destination port, network order; 0 = 8472 (formerly
                            * reserved0, same layout) */
    __u32 underlay_ip;     /* this node's public IP, network order */
    __u32 trace_sample;    /* with SHUTTLE_CONFIG_F_TRACE: 1 in N forwarded packets (0, 1: all) */
    /* with SHUTTLE_CONFIG_F_TRACE: tracing ends once bpf_ktime_get_ns() >> 30 (units of ~1.07 s
     * of CLOCK_MONOTONIC) passes it; 0 = no end. shuttlectl monitor renews it every second,
     * so a monitor killed by SIGKILL stops the tracing within seconds. */
    __u32 trace_until;
    /* the node's underlay interface (where from_underlay decapsulates and from_pod's direct
     * encapsulation goes out), 0 = none (formerly reserved1, same layout) */
    __u32 underlay_ifindex;
};

/* shuttle_config.flags. Userspace writers of the rest of the config keep these bits. */
#define SHUTTLE_CONFIG_F_TRACE 1u /* report sampled forwarded packets as SHUTTLE_EVENT_TRACE */
/* Direct overlay: from_pod pushes the VXLAN headers itself and redirects to underlay_ifindex;
 * else remote traffic goes through the VXLAN device (tunnel key). Owned by set_underlay(). */
#define SHUTTLE_CONFIG_F_DIRECT_OVERLAY 2u
/* shuttled has written the other nodes' IPv6 halves into peers6: from_overlay checks IPv6
 * tunnel packets (sender, inner source, VNI); without it they pass unchecked, as before.
 * Owned by set_peers6(). */
#define SHUTTLE_CONFIG_F_IPV6_PEERS 4u
#define SHUTTLE_VXLAN_DEFAULT_PORT 8472 /* flannel's (and Linux's IANA-less default) */
#define SHUTTLE_TRACE_CLOCK_SHIFT 30    /* shuttle_config.trace_until's unit: 2^30 ns */

/* ---- IPv6: endpoints6, endpoints6_hash, node_config6, nat_pairs6 ----------------------
 * Maps new next to layout 1's (older pins lack them; the load creates them), so no layout
 * bump. A /64 cannot index an array, but host-local hands out a range's addresses in order
 * from its start: the pod addresses sharing node_config6.node_subnet's first 112 bits (the
 * first 65,536 addresses of the subnet) have a slot in the ARRAY endpoints6, indexed by their
 * last 16 bits; any other pod address (a requested one, a range elsewhere in the /64) is in
 * the HASH endpoints6_hash. The packet path does one lookup either way. */
#define SHUTTLE_ENDPOINT6_SLOT_BITS 16
#define SHUTTLE_MAX_ENDPOINT6_SLOTS (1u << SHUTTLE_ENDPOINT6_SLOT_BITS)
#define SHUTTLE_MAX_ENDPOINTS6_HASHED 65536

struct shuttle_ip6 {
    __u8 addr[16]; /* network order */
};

struct shuttle_endpoint6 {
    __u32 ifindex;    /* host-side veth, as in shuttle_endpoint; 0 = empty slot */
    __u32 flags;      /* SHUTTLE_EP_F_*, set by BPF (NAT_PEERS: to_pod saw IPv6 NAT) */
    __u8 pod_ip[16];  /* checked on every lookup */
    __u8 pod_mac[6];  /* the only source MAC the pod may use */
    __u8 host_mac[6]; /* the host veth: src MAC on rewrite, the answer to the pod's NS */
    /* SHUTTLE_ATTACH_* of an IPv6-only pod (formerly reserved, same layout); 0 for a pod with
     * IPv4, whose endpoints slot holds its mode */
    __u32 attach_mode;
};

/* endpoint_meta6: an IPv6-only pod's address (struct shuttle_ip6) -> its names (struct
 * shuttle_endpoint_meta), as endpoint_meta for pods with IPv4. Userspace only: the index of
 * the attached IPv6-only pods. A map new next to layout 1's, no layout bump. */

/* node_config6: one entry (key 0), written by the plugin (set_pod_network6). layout_version
 * 0 = no IPv6 network on this node: from_pod passes IPv6 unchecked, as before this map. */
struct shuttle_config6 {
    __u32 layout_version;
    __u32 node_subnet_len; /* host order */
    __u8 node_subnet[16];  /* this node's IPv6 pod subnet (FLANNEL_IPV6_SUBNET's network) */
    __u8 gateway[16];      /* the pods' IPv6 gateway, held by every host veth (/128) */
    __u8 cluster_network[16];
    __u32 cluster_len;  /* host order; 0 = unset (answer NS only for the gateway) */
    __u32 reserved[12]; /* for the IPv6 overlay (issue 12 item 3) */
};

/* nat_pairs6: as nat_pairs, for IPv6 pods (value struct shuttle_nat_seen). */
struct shuttle_nat_pair6 {
    __u8 pod[16];
    __u8 peer[16];
};

/* ---- routes6: a remote node's IPv6 pod subnet -> that node (written by the cluster agent) --
 * from_pod's IPv6 device path, as `routes` is IPv4's. Key: the subnet's first 64 bits, masked
 * with node_config6.node_subnet_len, and that length: every lease has the length of this
 * node's, so one hash lookup of the masked destination finds the node. Lengths over 64 (and
 * 0) have no entries: their IPv6 takes the stack's per-peer routes on the device. The value
 * holds what the kernel's `encap ip6 id <VNI> src <local> dst <remote> csum` route held:
 * addresses in network order. A map new next to layout 1's (older pins lack it; the load
 * creates it; empty, from_pod hands IPv6 to the stack as before). */
#define SHUTTLE_ROUTE6_MAX_PREFIX 64

struct shuttle_route6_key {
    __u8 subnet[8];   /* the subnet's first 64 bits, masked with prefix_len */
    __u32 prefix_len; /* host order, 1..64 */
};

struct shuttle_route6 {
    __u8 underlay_ip6[16]; /* the node's PublicIPv6: the outer IPv6 destination */
    __u8 local_ip6[16];    /* this node's PublicIPv6: the outer source */
    __u8 vtep_mac[6];      /* the node's IPv6 VtepMAC: the inner Ethernet destination */
    __u16 reserved0;
    __u32 vni; /* host order */
    __u32 reserved;
};

/* ---- loader: one entry (key 0), owned by the datapath module's ensure() ------------------ */
struct shuttle_loader_state {
    __u64 build_hash; /* hash of the BPF object the pinned programs came from */
    __u32 layout_version;
    /* that build's serial (formerly reserved, same layout; 0 = a build before the rule):
     * pinned programs are only ever replaced by a build with a higher serial */
    __u32 build_serial;
};

/* ---- stats: per-CPU array, key = verdict * SHUTTLE_REASONS_PER_VERDICT + reason --------- */
#define SHUTTLE_REASONS_PER_VERDICT 16
#define SHUTTLE_VERDICTS 4
#define SHUTTLE_STATS_ENTRIES (SHUTTLE_VERDICTS * SHUTTLE_REASONS_PER_VERDICT)

enum shuttle_verdict {
    SHUTTLE_VERDICT_PASS = 0,     /* TC_ACT_OK: the host stack handles it */
    SHUTTLE_VERDICT_REDIRECT = 1, /* forwarded by BPF */
    SHUTTLE_VERDICT_DROP = 2,     /* TC_ACT_SHOT */
    SHUTTLE_VERDICT_RESERVED = 3,
};

enum shuttle_pass_reason {
    SHUTTLE_PASS_NOT_LOCAL = 0,    /* IPv4 to a non-local destination (host, service, remote) */
    SHUTTLE_PASS_NON_IP = 1,       /* not IPv4/ARP/IPv6 (or IPv6 without node_config6) */
    SHUTTLE_PASS_ARP_OTHER = 2,    /* ARP we do not answer: replies, own address, outside */
    SHUTTLE_PASS_NAT_FLOW = 3,     /* local destination, but a flow the stack must see (NAT) */
    SHUTTLE_PASS_TO_SELF = 4,      /* reserved */
    SHUTTLE_PASS_ENCAP = 5,        /* to_overlay: tunnel key and inner MACs set for the device */
    SHUTTLE_PASS_ENCAPSULATED = 6, /* to_overlay: from_pod had set the tunnel key already */
    SHUTTLE_PASS_TO_DEVICE = 7,    /* from_underlay: VXLAN for us left encapsulated to the stack
                                    * and the device (fragment, options, GSO, NAT flow, ...) */
    SHUTTLE_PASS_NOT_VXLAN = 8,    /* from_underlay: not VXLAN for this node, untouched */
    /* IPv6 NDP not answered here: DAD, NA, RS, RA, redirect, NS from a link-local source or
     * for other targets */
    SHUTTLE_PASS_NDP_OTHER = 12,
    /* ICMPv6 the stack must see: errors, MLD */
    SHUTTLE_PASS_ICMPV6_STACK = 13,
};

enum shuttle_redirect_reason {
    SHUTTLE_REDIRECT_LOCAL = 0,        /* bpf_redirect_peer into a pod on this node */
    SHUTTLE_REDIRECT_ARP_REPLY = 1,    /* ARP answered back out of the ingress veth */
    SHUTTLE_REDIRECT_REMOTE = 2,       /* VXLAN encap towards another node */
    SHUTTLE_REDIRECT_DECAP = 3,        /* from_overlay: bpf_redirect_peer into a pod on this node */
    SHUTTLE_REDIRECT_ENCAP_DIRECT = 4, /* from_pod: VXLAN headers pushed, to the underlay */
    SHUTTLE_REDIRECT_DECAP_DIRECT = 5, /* from_underlay: stripped, bpf_redirect_peer into a pod */
    /* IPv6 NS answered (NA) back out of the ingress veth */
    SHUTTLE_REDIRECT_NA_REPLY = 12,
};

enum shuttle_drop_reason {
    SHUTTLE_DROP_MALFORMED = 0,        /* truncated or invalid Ethernet/ARP/IPv4 header */
    SHUTTLE_DROP_TTL_EXPIRED = 1,      /* TTL <= 1 on a packet we would forward */
    SHUTTLE_DROP_SPOOFED_IP = 2,       /* source IP (ARP sender IP) is not a pod behind this veth */
    SHUTTLE_DROP_SPOOFED_MAC = 3,      /* source MAC (or ARP sender MAC) is not the pod's */
    SHUTTLE_DROP_NO_CONFIG = 4,        /* node_config never written: nothing can be checked */
    SHUTTLE_DROP_REDIRECT_FAILED = 5,  /* bpf_skb_set_tunnel_key failed */
    SHUTTLE_DROP_NO_ROUTE = 6,         /* to_overlay: no node's subnet holds the destination */
    SHUTTLE_DROP_WRONG_VNI = 7,        /* from_overlay: a VNI other than node_config.vni */
    SHUTTLE_DROP_UNKNOWN_NODE = 8,     /* VXLAN whose outer source is no node of the routes map */
    SHUTTLE_DROP_FORGED_INNER_SRC = 9, /* inner source outside the sending node's subnet */
    /* from_pod: a pod's UDP to a node's underlay address and VXLAN port (a tunnel packet that
     * masquerading would send from this node's address) */
    SHUTTLE_DROP_TUNNEL_FROM_POD = 10,
};

#define SHUTTLE_STAT_KEY(verdict, reason) ((verdict)*SHUTTLE_REASONS_PER_VERDICT + (reason))

struct shuttle_stat {
    __u64 packets;
    __u64 bytes;
};

/* ---- events: ring buffer records --------------------------------------------------------- */
enum shuttle_event_type {
    SHUTTLE_EVENT_DROP = 1,
    SHUTTLE_EVENT_TRACE = 2, /* a forwarded packet (redirect verdict), 1 in trace_sample */
};

/* A ring buffer record: readers take a record of at least SHUTTLE_EVENT_V1_SIZE bytes and
 * treat the fields past its end as zero. Fields are only ever appended (no layout version:
 * a record carries its size), so a shuttlectl and programs of different builds on one node
 * read each other's events. */
struct shuttle_event {
    __u64 timestamp_ns; /* bpf_ktime_get_ns() */
    __u32 type;         /* shuttle_event_type */
    __u32 stat_key;     /* SHUTTLE_STAT_KEY(verdict, reason) */
    __u32 ifindex;      /* ingress device */
    __u32 len;          /* skb->len */
    __u32 saddr;        /* network order, 0 if not IPv4/ARP */
    __u32 daddr;        /* network order */
    __u8 smac[6];
    __u8 dmac[6];
    __u16 eth_proto; /* network order */
    __u8 ip_proto;   /* IPv6: the first next header */
    __u8 ttl;        /* IPv6: the hop limit */
    /* Appended (a build before them sends SHUTTLE_EVENT_V1_SIZE bytes): an IPv6 packet's
     * addresses, network order; zero for other packets. */
    __u8 saddr6[16];
    __u8 daddr6[16];
};

#define SHUTTLE_EVENT_V1_SIZE 48 /* up to and including ttl */

#endif /* SHUTTLE_ABI_H */
