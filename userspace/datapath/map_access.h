#pragma once

// Typed access to shuttle's maps through the structs of bpf/shuttle_abi.h.

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

#include "common/system_error.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {

template <class Value, class Key>
std::optional<Value> lookup(int map_fd, const Key& key) {
    Value value{};
    if (bpf_map_lookup_elem(map_fd, &key, &value) != 0) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw_errno("map lookup");
    }
    return value;
}

template <class Key, class Value>
void update(int map_fd, const Key& key, const Value& value) {
    if (bpf_map_update_elem(map_fd, &key, &value, BPF_ANY) != 0) {
        throw_errno("map update");
    }
}

// Deletes; a missing key is fine.
template <class Key>
void erase(int map_fd, const Key& key) {
    if (bpf_map_delete_elem(map_fd, &key) != 0 && errno != ENOENT) {
        throw_errno("map delete");
    }
}

template <class Key>
std::vector<Key> keys(int map_fd) {
    std::vector<Key> out;
    Key key{};
    Key next{};
    const Key* prev = nullptr;
    while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
        out.push_back(next);
        key = next;
        prev = &key;
    }
    return out;
}

// Every entry of a map, by BPF_MAP_LOOKUP_BATCH: a few syscalls instead of two per entry.
template <class Key, class Value>
std::vector<std::pair<Key, Value>> read_all(int fd, uint32_t max_entries, const char* what) {
    std::vector<std::pair<Key, Value>> out;
    std::vector<Key> keys(max_entries);
    std::vector<Value> values(max_entries);
    uint32_t batch = 0;  // the kernel's resume token: a bucket (hash) or a key (array)
    for (bool first = true;; first = false) {
        uint32_t count = max_entries;
        LIBBPF_OPTS(bpf_map_batch_opts, opts);
        int rc = bpf_map_lookup_batch(fd, first ? nullptr : &batch, &batch, keys.data(),
                                      values.data(), &count, &opts);
        if (rc != 0 && errno != ENOENT) {
            throw_errno(std::string("batch read of ") + what);
        }
        for (uint32_t i = 0; i < count; ++i) {
            out.emplace_back(keys[i], values[i]);
        }
        if (rc != 0 || count == 0) {
            return out;
        }
    }
}

// The endpoints array: one slot per address of the node subnet (node_config), see
// shuttle_abi.h. Addresses are IPv4 in network order.
class EndpointTable {
  public:
    EndpointTable(int endpoints_fd, int config_fd)
        : endpoints_fd_(endpoints_fd), config_fd_(config_fd) {}

    // The slot of `ip`; nullopt without a node config or outside the node subnet.
    std::optional<uint32_t> slot(uint32_t ip) const;
    // The pod at `ip`, if its slot holds one.
    std::optional<shuttle_endpoint> find(uint32_t ip) const;
    // Throws std::invalid_argument when `ip` has no slot.
    void put(uint32_t ip, const shuttle_endpoint& entry) const;
    // Empties the slot of `ip` if it holds `ip`.
    void clear(uint32_t ip) const;

  private:
    int endpoints_fd_;
    int config_fd_;
};

// The IPv6 endpoints (shuttle_abi.h): a slot in the array endpoints6 for an address sharing
// node_config6's subnet's first 112 bits, else an entry of the hash endpoints6_hash.
class EndpointTable6 {
  public:
    EndpointTable6(int slots_fd, int hash_fd, int config_fd)
        : slots_fd_(slots_fd), hash_fd_(hash_fd), config_fd_(config_fd) {}

    // False while node_config6 is unset (no IPv6 network: the programs pass IPv6 unchecked).
    bool configured() const;
    std::optional<shuttle_endpoint6> find(const shuttle_ip6& ip) const;
    // Throws std::invalid_argument while unconfigured.
    void put(const shuttle_ip6& ip, const shuttle_endpoint6& entry) const;
    // Removes the entry of `ip` if it holds `ip`.
    void clear(const shuttle_ip6& ip) const;
    // Every entry, slots and hash.
    std::vector<shuttle_endpoint6> all() const;

  private:
    // The slot of `ip`, nullopt when it belongs in the hash (or without a config).
    std::optional<uint32_t> slot(const shuttle_ip6& ip) const;

    int slots_fd_;
    int hash_fd_;
    int config_fd_;
};

// One counter of `stats`, summed over CPUs.
struct StatCounter {
    uint32_t verdict = 0;
    uint32_t reason = 0;
    uint64_t packets = 0;
    uint64_t bytes = 0;
};

// Every counter of the per-CPU stats map, zeros included, in key order.
std::vector<StatCounter> read_stats(int stats_fd);
std::string verdict_name(uint32_t verdict);
std::string reason_name(uint32_t verdict, uint32_t reason);

// A fixed-size char field of a map value as a string.
template <size_t N>
std::string field_string(const char (&field)[N]) {
    size_t len = 0;
    while (len < N && field[len]) {
        ++len;
    }
    return std::string(field, len);
}

template <size_t N>
void set_field_string(char (&field)[N], const std::string& text) {
    size_t len = std::min(text.size(), N - 1);
    std::copy_n(text.data(), len, field);
    std::fill(field + len, field + N, '\0');
}

}  // namespace shuttle::datapath
