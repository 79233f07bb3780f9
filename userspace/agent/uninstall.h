#pragma once

#include <string>
#include <vector>

namespace shuttle::agent {

// `shuttlectl uninstall` / `shuttled --cleanup`, in the calling thread's network namespace:
// detaches every shuttle program (pods and overlay) and removes every pin under bpffs_root,
// deletes the VXLAN devices shuttle.<VNI>, and deletes the nftables table `ip shuttle`.
// Keeps what flannel needs to take the node back: the etcd lease, subnet.env, the IP store
// (/var/lib/cni/networks) and the pods' veths with their host routes. Stop shuttled first,
// or it puts the device back. Returns one line per thing it removed (nothing: empty).
std::vector<std::string> uninstall_node(const std::string& bpffs_root);

}  // namespace shuttle::agent
