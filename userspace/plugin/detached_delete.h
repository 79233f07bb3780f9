#pragma once

#include <string>

#include "netlink/socket.h"

namespace shuttle::plugin {

// Deletes the link `ifindex` of the network namespace behind `netns_fd` and returns as soon
// as the kernel has unlisted it (its RTM_DELLINK notification), not when the kernel has
// finished with it.
//
// Deleting a veth holds the caller ~15-20 ms after the device is gone: the kernel waits for
// RCU callbacks (rcu_barrier) before it frees the device, in the deleting task. A DEL has
// nothing to wait for once the device is unlisted (its name, addresses and routes are gone
// with it), so a detached grandchild sends the request and sits out that wait alone: it has
// /dev/null for stdio (the runtime's pipes close when the plugin exits) and is nobody's
// child to reap once its parent has exited. Falls back to deleting in this process when the
// grandchild cannot be started or the notification does not come. Throws netlink::Error
// with the kernel's errno when the delete fails; ENODEV when the link is already gone.
// `socket` is a socket in that namespace (the caller's; the grandchild sends on it).
void delete_link_detached(netlink::Socket& socket, int netns_fd, int ifindex,
                          const std::string& what);

}  // namespace shuttle::plugin
