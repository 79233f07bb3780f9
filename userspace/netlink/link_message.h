#pragma once

// Internal helpers shared by link.cpp and link_create.cpp.

#include <linux/rtnetlink.h>

#include "netlink/link.h"
#include "netlink/message.h"

namespace shuttle::netlink::detail {

// An RTM_*LINK message addressed to `link`: by index when known, else by IFLA_IFNAME.
// ifi_flags / ifi_change set or clear IFF_* flags (up / down).
MessageBuilder link_message(uint16_t type, uint16_t flags, const LinkRef& link,
                            uint32_t ifi_flags = 0, uint32_t ifi_change = 0);

// IFLA_IFNAME / IFLA_MTU / IFLA_ADDRESS for the fields that are set.
void add_link_settings(MessageBuilder& message, const LinkSettings& settings);

}  // namespace shuttle::netlink::detail
