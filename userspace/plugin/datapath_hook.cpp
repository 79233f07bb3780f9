#include "plugin/datapath_hook.h"

namespace shuttle::plugin {

void datapath_attach(const Network&, const AttachmentRecord&, int) {}

void datapath_detach(const Network&, const AttachmentRecord&) {}

std::string datapath_check(const Network&, const AttachmentRecord&, int) {
    return "";
}

}  // namespace shuttle::plugin
