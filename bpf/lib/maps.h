/* The BTF-defined maps of shuttle's datapath. Layouts: shuttle_abi.h. Userspace pins them
 * under <bpffs root>/v<layout>/ and reuses the pins on every later load.
 *
 * Every program file of the object `shuttle` includes this header, so each compiled file
 * defines every map. They are __weak: bpftool's (libbpf's) static linker checks that the
 * definitions are identical and keeps one; strong duplicates would not link. */
#ifndef SHUTTLE_LIB_MAPS_H
#define SHUTTLE_LIB_MAPS_H

#include "shuttle_abi.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, SHUTTLE_MAX_ENDPOINTS);
    __type(key, __u32);
    __type(value, struct shuttle_endpoint);
} endpoints SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SHUTTLE_MAX_ENDPOINTS);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, struct shuttle_endpoint_meta);
} endpoint_meta SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, SHUTTLE_MAX_NAT_PAIRS);
    __type(key, struct shuttle_nat_pair);
    __type(value, struct shuttle_nat_seen);
} nat_pairs SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SHUTTLE_MAX_ROUTES);
    __type(key, struct shuttle_route_key);
    __type(value, struct shuttle_route);
} routes SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, SHUTTLE_MAX_ROUTE_SLOTS);
    __type(key, __u32);
    __type(value, struct shuttle_route);
} route_slots SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SHUTTLE_MAX_UNDERLAY_NODES);
    __type(key, __u32);
    __type(value, __u32);
} underlay_nodes SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct shuttle_config);
} node_config SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct shuttle_loader_state);
} loader SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, SHUTTLE_STATS_ENTRIES);
    __type(key, __u32);
    __type(value, struct shuttle_stat);
} stats SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, SHUTTLE_EVENTS_BYTES);
} events SEC(".maps") __weak;

/* IPv6 (shuttle_abi.h: endpoints6 and the rest): maps new next to layout 1's. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, SHUTTLE_MAX_ENDPOINT6_SLOTS);
    __type(key, __u32);
    __type(value, struct shuttle_endpoint6);
} endpoints6 SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SHUTTLE_MAX_ENDPOINTS6_HASHED);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct shuttle_ip6);
    __type(value, struct shuttle_endpoint6);
} endpoints6_hash SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SHUTTLE_MAX_ENDPOINTS);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct shuttle_ip6);
    __type(value, struct shuttle_endpoint_meta);
} endpoint_meta6 SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct shuttle_config6);
} node_config6 SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, SHUTTLE_MAX_NAT_PAIRS);
    __type(key, struct shuttle_nat_pair6);
    __type(value, struct shuttle_nat_seen);
} nat_pairs6 SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SHUTTLE_MAX_PEERS6);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct shuttle_ip6);
    __type(value, struct shuttle_peer6);
} peers6 SEC(".maps") __weak;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SHUTTLE_MAX_ROUTES);
    __type(key, struct shuttle_route6_key);
    __type(value, struct shuttle_route6);
} routes6 SEC(".maps") __weak;

#endif
