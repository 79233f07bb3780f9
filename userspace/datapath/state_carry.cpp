#include "datapath/state_carry.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "common/system_error.h"
#include "datapath/bpffs.h"
#include "datapath/pin_layout.h"

namespace shuttle::datapath {
namespace {

struct MapShape {
    uint32_t type = 0, key_size = 0, value_size = 0, max_entries = 0;
};

MapShape shape_of(int fd) {
    auto info = object_info<bpf_map_info>(fd, "map info");
    return {info.type, info.key_size, info.value_size, info.max_entries};
}

bool all_zero(const Bytes& bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

// Every entry by BPF_MAP_LOOKUP_BATCH, 4,096 per call (one lookup per entry cost ~0.3 s for
// the 65,536 slots of endpoints and of route_slots); false when the kernel has no batch for
// this map type.
bool read_batched(int fd, const MapShape& shape, MapEntries& out) {
    constexpr uint32_t kChunk = 4096;
    Bytes keys(size_t{kChunk} * shape.key_size), values(size_t{kChunk} * shape.value_size);
    std::vector<uint64_t> token((std::max<uint32_t>(shape.key_size, 8) + 7) / 8);
    for (bool first = true;; first = false) {
        uint32_t count = kChunk;
        int err = bpf_map_lookup_batch(fd, first ? nullptr : token.data(), token.data(),
                                       keys.data(), values.data(), &count, nullptr);
        if (err && errno != ENOENT) {
            if (first && (errno == EINVAL || errno == ENOTSUP)) {
                return false;
            }
            throw_errno("map lookup batch");
        }
        for (uint32_t i = 0; i < count; ++i) {
            auto key = keys.begin() + ptrdiff_t{i} * shape.key_size;
            auto value = values.begin() + ptrdiff_t{i} * shape.value_size;
            Bytes v(value, value + shape.value_size);
            if (shape.type != BPF_MAP_TYPE_ARRAY || !all_zero(v)) {
                out.emplace(Bytes(key, key + shape.key_size), std::move(v));
            }
        }
        if (err) {
            return true;  // ENOENT: past the last entry
        }
    }
}

// Every entry; an array's all-zero slots are its empty ones and are left out.
MapEntries read_entries(int fd) {
    MapShape shape = shape_of(fd);
    MapEntries out;
    if (read_batched(fd, shape, out)) {
        return out;
    }
    out.clear();
    Bytes value(shape.value_size);
    if (shape.type == BPF_MAP_TYPE_ARRAY) {
        for (uint32_t i = 0; i < shape.max_entries; ++i) {
            if (bpf_map_lookup_elem(fd, &i, value.data()) != 0) {
                throw_errno("map lookup");
            }
            if (!all_zero(value)) {
                const auto* key = reinterpret_cast<const uint8_t*>(&i);
                out.emplace(Bytes(key, key + sizeof i), value);
            }
        }
        return out;
    }
    Bytes key(shape.key_size), next(shape.key_size);
    const void* previous = nullptr;
    while (bpf_map_get_next_key(fd, previous, next.data()) == 0) {
        if (bpf_map_lookup_elem(fd, next.data(), value.data()) == 0) {
            out.emplace(next, value);  // (an entry deleted meanwhile is skipped)
        }
        key = next;
        previous = key.data();
    }
    return out;
}

// The entry at `key`; nullopt when absent (for an array: an all-zero slot).
std::optional<Bytes> read_entry(int fd, const Bytes& key, size_t value_size) {
    Bytes value(value_size);
    if (bpf_map_lookup_elem(fd, key.data(), value.data()) != 0) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw_errno("map lookup");
    }
    if (all_zero(value)) {
        return std::nullopt;
    }
    return value;
}

void write_entry(int fd, const Bytes& key, const Bytes& value) {
    if (bpf_map_update_elem(fd, key.data(), value.data(), BPF_ANY) != 0) {
        throw_errno("map update");
    }
}

const MapConversion* conversion_for(const Build& build, uint32_t from_layout,
                                    const std::string& map) {
    for (const MapConversion& c : build.conversions) {
        if (c.from_layout == from_layout && c.map == map) {
            return &c;
        }
    }
    return nullptr;
}

}  // namespace

bool carries_state(const std::string& map_name) {
    return map_name != "loader" && map_name != "stats" && map_name != "events";
}

StateCarry::StateCarry(const std::string& old_dir, uint32_t old_layout, bpf_object* object,
                       const Build& build) {
    bpf_map* map;
    bpf_object__for_each_map(map, object) {
        std::string name = bpf_map__name(map);
        if (bpf_map__is_internal(map) || !carries_state(name)) {
            continue;
        }
        UniqueFd old = open_pin(map_pin(old_dir, name));
        if (!old) {
            continue;  // new in this layout: starts empty
        }
        Carried carried;
        carried.name = name;
        carried.map = map;
        carried.conversion = conversion_for(build, old_layout, name);
        MapShape shape = shape_of(old.get());
        if (!carried.conversion && (shape.type != static_cast<uint32_t>(bpf_map__type(map)) ||
                                    shape.key_size != bpf_map__key_size(map) ||
                                    shape.value_size != bpf_map__value_size(map))) {
            throw std::runtime_error(
                "cannot carry map " + name + " from layout " + std::to_string(old_layout) +
                " into layout " + std::to_string(build.layout) + ": key " +
                std::to_string(shape.key_size) + " value " + std::to_string(shape.value_size) +
                " became key " + std::to_string(bpf_map__key_size(map)) + " value " +
                std::to_string(bpf_map__value_size(map)) +
                ", and this build has no conversion for it (nothing was changed)");
        }
        carried.old_fd = std::move(old);
        carried_.push_back(std::move(carried));
    }
}

MapEntries StateCarry::read_converted(const Carried& carried) const {
    MapEntries entries = read_entries(carried.old_fd.get());
    if (!carried.conversion) {
        return entries;
    }
    MapEntries out;
    for (const auto& [key, value] : entries) {
        Bytes new_key(bpf_map__key_size(carried.map)), new_value(bpf_map__value_size(carried.map));
        if (carried.conversion->convert(key, value, new_key, new_value)) {
            out.emplace(std::move(new_key), std::move(new_value));
        }
    }
    return out;
}

void StateCarry::copy() {
    for (Carried& carried : carried_) {
        carried.copied = read_converted(carried);
        for (const auto& [key, value] : carried.copied) {
            write_entry(bpf_map__fd(carried.map), key, value);
        }
    }
}

void StateCarry::catch_up() {
    for (const Carried& carried : carried_) {
        int fd = bpf_map__fd(carried.map);
        size_t value_size = bpf_map__value_size(carried.map);
        for (const auto& [key, value] : read_converted(carried)) {
            auto first = carried.copied.find(key);
            if (first != carried.copied.end() && first->second == value) {
                continue;  // unchanged on the old side
            }
            auto now = read_entry(fd, key, value_size);
            bool untouched = first == carried.copied.end() ? !now : now == first->second;
            if (untouched) {
                write_entry(fd, key, value);
            }
        }
    }
}

}  // namespace shuttle::datapath
