#pragma once

namespace shuttle::datapath {

// Routes libbpf's messages: netlink extack text for errors we handle (an existing clsact, a
// missing filter on detach) and debug lines are dropped, the rest goes to stderr. Once per
// process; every entry point that loads or detaches calls it.
void install_libbpf_print();

}  // namespace shuttle::datapath
