#pragma once

// Test hook for the fault matrix (tests/integration/fault_plugin_kill.sh): when the
// environment variable SHUTTLE_TEST_STOP_AT names a point, the process kills itself with
// SIGKILL there, as a node losing power or an OOM kill would, so a test can show that the
// runtime's DEL or a retried ADD leaves nothing behind. The variable is read once per
// process; an unset variable costs one pointer test per point. Points are named
// <command>-after-<step> (docs/ARCHITECTURE.md, "Fault matrix").

#include <signal.h>

#include <cstdlib>
#include <cstring>

namespace shuttle {

inline void fault_point(const char* name) {
    static const char* const stop_at = std::getenv("SHUTTLE_TEST_STOP_AT");
    if (stop_at != nullptr && std::strcmp(stop_at, name) == 0)
        ::raise(SIGKILL);
}

}  // namespace shuttle
