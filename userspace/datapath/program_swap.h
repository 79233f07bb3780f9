#pragma once

// Pointing every existing attachment of a hook at a new build's program (Node::ensure's swap).
// Internal to datapath/.

#include <string>
#include <vector>

#include "datapath/pin_layout.h"

namespace shuttle::datapath {

// Every pinned TCX link of a pod hook and the cls_bpf filter on each of `tc_pods` (host veth
// ifindexes; gone devices skipped).
void replace_on_pods(const std::string& pin_dir, const HookSpec& spec,
                     const std::vector<int>& tc_pods, int new_prog_fd);
// The same for the VXLAN device named by node_config (`config_fd`), if it has a filter.
void replace_on_overlay(const std::string& pin_dir, const HookSpec& spec, int config_fd,
                        int new_prog_fd);
// The same for the underlay interface: its TCX link, or shuttle's own cls_bpf filter there
// (another agent's filter on the shared interface is never replaced).
void replace_on_underlay(const std::string& pin_dir, int config_fd, int new_prog_fd);
// Re-pins the TCX links under older layouts' folders into this layout's, so the swap updates
// them with the rest.
void move_older_links(const std::string& pin_dir, const std::vector<std::string>& older_dirs);

}  // namespace shuttle::datapath
