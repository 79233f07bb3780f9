#pragma once

// Internal: RTM_*NEIGH messages shared by neighbour.cpp and fdb.cpp.

#include <linux/neighbour.h>

#include <cstdint>

#include "netlink/message.h"

namespace shuttle::netlink::detail {

struct NeighbourHeader {
    uint8_t family = 0;
    int index = 0;
    uint16_t state = 0;
    uint8_t flags = 0;
};

MessageBuilder neighbour_message(uint16_t type, uint16_t flags, const NeighbourHeader& header);

}  // namespace shuttle::netlink::detail
