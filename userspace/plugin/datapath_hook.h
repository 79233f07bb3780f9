#pragma once

#include <string>

#include "plugin/attachment.h"
#include "plugin/network.h"

namespace shuttle::plugin {

// ===== DATAPATH CALL SITE =====================================================================
// The eBPF datapath (userspace/datapath/datapath.h, issue 4) plugs in here: ADD calls
// datapath_attach after the veth is wired, DEL and GC call datapath_detach before the veth
// goes, CHECK appends datapath_check's answer to its drifts. Until the datapath lands these
// do nothing and pods use the host's routing (ptp-style), the fallback path.
// Config keys already parsed for it: bpffsRoot (Network::conf.bpffs_root) and attach.
void datapath_attach(const Network& net, const AttachmentRecord& record, int host_ifindex);
void datapath_detach(const Network& net, const AttachmentRecord& record);
std::string datapath_check(const Network& net, const AttachmentRecord& record, int host_ifindex);

}  // namespace shuttle::plugin
