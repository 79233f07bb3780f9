// Root integration tests pin BPF objects into bpffs mounts of their own: the test process
// moves once into a private mount namespace, so nothing it mounts is seen by the host.
#pragma once

#include <sched.h>
#include <sys/mount.h>

#include "common/system_error.h"

namespace shuttle::test {

inline void enter_private_mount_namespace() {
    static const bool entered = [] {
        if (unshare(CLONE_NEWNS) != 0 ||
            mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
            shuttle::throw_errno("private mount namespace");
        }
        return true;
    }();
    (void)entered;
}

}  // namespace shuttle::test
