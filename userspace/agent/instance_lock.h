#pragma once

#include <stdexcept>
#include <string>

#include "common/unique_fd.h"

namespace shuttle::agent {

// One shuttled per node: an exclusive flock on <subnet file>.lock (/run/flannel/subnet.env.lock),
// taken before anything on the node is touched and held for the process's life (the kernel
// drops it on any exit, SIGKILL included, so no stale lock survives a crash). The file holds
// the holder's PID, for the refusal's message. The subnet file is what every agent of a node
// writes; agents with different subnet files (tests running several "nodes" in one
// namespace) do not exclude each other.
class InstanceLock {
  public:
    // Throws AlreadyRunning naming the other agent's PID and the lock file.
    explicit InstanceLock(const std::string& subnet_file);
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    UniqueFd fd_;
};

struct AlreadyRunning : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string instance_lock_path(const std::string& subnet_file);

}  // namespace shuttle::agent
