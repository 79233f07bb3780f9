#pragma once

#include <exception>
#include <functional>
#include <string>

#include "plugin/attachment.h"
#include "plugin/network.h"

namespace shuttle::datapath {
class Node;
}

namespace shuttle::plugin {

// ===== DATAPATH CALL SITE =====================================================================
// The eBPF datapath (userspace/datapath/datapath.h) plugs in here: ADD calls datapath_attach
// after the veth is wired (Node::ensure loads/pins the programs once per node under
// bpffsRoot; set_pod_network with the node subnet (FLANNEL_SUBNET, else the pod address's
// network), the gateway and the cluster network (FLANNEL_NETWORK, else the node subnet), and
// set_pod_network6 likewise for a pod with IPv6 (an IPv6-only pod: only that); then the
// endpoint's map entries and the programs on its host veth), DEL and GC
// call datapath_detach before the veth goes, CHECK appends datapath_check's answer to its
// drifts. The host routing stays in place underneath as the fallback path.
// Failures are cni::Error kDatapathFailure (107).
void datapath_attach(const Network& net, const AttachmentRecord& record, int host_ifindex);
// The mode ADD attaches this network's pods with (tc, auto or tcx), kept in the record so
// that a re-attach after lost pins (the plugin's or shuttled's) keeps each pod's mode.
std::string attach_mode_of(const Network& net);
// Idempotent; a node without a pinned datapath has nothing to detach.
void datapath_detach(const Network& net, const AttachmentRecord& record);
// "" when the program and map entries match the record, else what drifted.
std::string datapath_check(const Network& net, const AttachmentRecord& record);
// New maps (first start, or bpffs lost its pins): every pod recorded under state_dir whose
// host veth still exists gets its map entries and programs back. Returns how many did.
using ReattachFailure = std::function<void(const AttachmentRecord&, const std::exception&)>;
int reattach_recorded(const std::string& state_dir, datapath::Node& node,
                      const ReattachFailure& on_failure = {});
// STATUS: "" when ADD could pin under bpffsRoot (it, or its nearest existing parent, is on
// a bpf filesystem), else why not, with the command to run. Mounts bpffs at /sys/fs/bpf
// first when ADD would (datapath::mount_bpffs_if_missing), and logs it.
std::string datapath_status(const Network& net);

}  // namespace shuttle::plugin
