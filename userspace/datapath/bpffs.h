#pragma once

// bpffs plumbing: directories, pins and the pin-root lock.

#include <string>

#include "common/unique_fd.h"

namespace shuttle::datapath {

// mkdir -p, refusing a root that is not on a bpf filesystem (pins elsewhere would fail
// with confusing errors, and a tmpfs would silently lose them).
void make_bpffs_dirs(const std::string& path);
bool is_on_bpffs(const std::string& path);
// False when missing; throws when it cannot tell (EACCES without root).
bool path_exists(const std::string& path);

// bpf_obj_get; an invalid fd when the pin does not exist; throws on other errors.
UniqueFd open_pin(const std::string& path);
void pin(int fd, const std::string& path);
// unlink; missing is fine.
void unpin(const std::string& path);

// Exclusive flock on a directory, released on destruction.
class DirLock {
  public:
    explicit DirLock(const std::string& dir);

  private:
    UniqueFd fd_;
};

}  // namespace shuttle::datapath
