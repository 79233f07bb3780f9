#pragma once

// Carrying a node's state from the pinned maps of an older layout into the new maps of an
// upgrade: endpoints, endpoint_meta, routes, route_slots, node_config, nat_pairs, the IPv6
// maps (every map but the loader record, the counters and the ring buffer). Internal to
// datapath/.

#include <bpf/libbpf.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "datapath/datapath.h"

namespace shuttle::datapath {

using Bytes = std::vector<uint8_t>;
using MapEntries = std::map<Bytes, Bytes>;

// False for the maps whose contents need not survive an upgrade.
bool carries_state(const std::string& map_name);

class StateCarry {
  public:
    // Pairs every carried map of the opened (not yet loaded) `object` with its pin under
    // `old_dir` (layout `old_layout`) and checks that each can be carried: the same key and
    // value sizes, or one of `build`'s conversions. Throws, naming the map, before anything
    // is written. A map the old layout lacks starts empty.
    StateCarry(const std::string& old_dir, uint32_t old_layout, bpf_object* object,
               const Build& build);

    // Copies every carried map into the loaded object's maps (converting where needed).
    void copy();
    // After the programs were swapped: takes over what the old programs wrote since copy()
    // (new NAT pairs, endpoint flags), where the new programs have not written that entry.
    void catch_up();

  private:
    struct Carried {
        std::string name;
        UniqueFd old_fd;
        bpf_map* map = nullptr;
        const MapConversion* conversion = nullptr;
        MapEntries copied;  // as written by copy(), in the new layout
    };
    MapEntries read_converted(const Carried& carried) const;

    std::vector<Carried> carried_;
};

}  // namespace shuttle::datapath
