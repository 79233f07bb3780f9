#pragma once

#include <string>

#include "common/unique_fd.h"

namespace shuttle::netns {

// Opens a network namespace file (/run/netns/<name>, /proc/<pid>/ns/net, ...), O_CLOEXEC.
UniqueFd open(const std::string& path);

// The network namespace of the CALLING THREAD (/proc/thread-self/ns/net; /proc/self would
// be the main thread's).
UniqueFd open_current();

// Enters a network namespace on the current thread (setns) and returns the thread to the
// namespace it was in when the guard is destroyed, also during stack unwinding.
//
// Only this thread moves: other threads, and sockets opened before, stay where they are.
// A netlink socket opened inside the guard stays bound to the entered namespace. The
// mount namespace is not changed, so /sys still shows the original namespace's devices;
// /proc/sys/net follows the thread (see sysctl.h).
//
// If the thread cannot return, the process aborts: running on in the wrong namespace
// would make every later change land in the wrong place.
class Guard {
  public:
    explicit Guard(const std::string& path);
    explicit Guard(int netns_fd);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    Guard(Guard&&) = delete;
    Guard& operator=(Guard&&) = delete;

  private:
    UniqueFd original_;
};

// Makes a new, unnamed network namespace and returns an fd to it; the calling thread is back
// in its original namespace on return. The namespace lives as long as something references
// it (this fd, a process inside, a mount) and vanishes with the last reference, so a test
// that crashes leaves nothing behind. Use with Guard to work inside it.
UniqueFd create_anonymous();

// A fresh anonymous namespace that the current thread is inside for this object's lifetime.
class Scratch {
  public:
    Scratch();
    int fd() const { return fd_.get(); }

  private:
    UniqueFd fd_;
    Guard guard_;
};

// True when both fds / paths refer to the same namespace (same inode and device).
bool same_namespace(int fd_a, int fd_b);

}  // namespace shuttle::netns
