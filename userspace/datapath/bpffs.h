#pragma once

// bpffs plumbing: directories, pins and the pin-root lock.

#include <bpf/bpf.h>

#include <cstring>
#include <string>

#include "common/system_error.h"
#include "common/unique_fd.h"

namespace shuttle::datapath {

// Where bpffs belongs, and where shuttle mounts it when nothing is mounted there (as
// Cilium's agent and systemd do).
inline constexpr const char* kBpffsMountPoint = "/sys/fs/bpf";

// When `root` lies under /sys/fs/bpf and no bpf filesystem is mounted there: creates
// /sys/fs/bpf if missing and mounts one, serialised by a flock on the directory. Returns
// the mount point when this call mounted it, else "". Where that is impossible (no
// privilege, no bpf filesystem in the kernel, /sys read-only) throws std::runtime_error
// naming the command to run. Other roots are left alone: mounting over a directory the
// operator chose could hide what is in it.
std::string mount_bpffs_if_missing(const std::string& root);

// What to run so that `root` is on a bpf filesystem: "mount -t bpf bpf <dir>" (after a
// "mkdir -p <dir> && " when it is missing), <dir> being /sys/fs/bpf for a root in it, else
// the root's parent.
std::string bpffs_mount_command(const std::string& root);

// mount_bpffs_if_missing, then mkdir -p `root`, refusing a root that is not on a bpf
// filesystem (pins elsewhere would fail with confusing errors, and a tmpfs would silently
// lose them) with the mount command to run. Returns what mount_bpffs_if_missing did.
std::string prepare_bpffs_root(const std::string& root);

// mkdir -p of a directory under a prepared root, refusing one that is not on bpffs.
void make_bpffs_dirs(const std::string& path);
bool is_on_bpffs(const std::string& path);
// False when missing; throws when it cannot tell (EACCES without root).
bool path_exists(const std::string& path);

// bpf_obj_get; an invalid fd when the pin does not exist; throws on other errors.
UniqueFd open_pin(const std::string& path);
void pin(int fd, const std::string& path);
// unlink; missing is fine.
void unpin(const std::string& path);

// What the kernel says about a map, program or link fd (bpf_map_info, bpf_prog_info,
// bpf_link_info); throws naming `what`.
template <class Info>
Info object_info(int fd, const std::string& what) {
    Info info;
    std::memset(&info, 0, sizeof info);
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
        throw_errno(what);
    }
    return info;
}

// Refuses a pin root (an open directory) that another user owns, or that others may write
// without the sticky bit: on a bpffs mounted without mode= (the kernel makes its top 1777)
// any local user could make the root first and then remove or rename the pins in it.
void require_own_directory(int dir_fd, const std::string& path);

// Exclusive flock on a directory, released on destruction.
class DirLock {
  public:
    explicit DirLock(const std::string& dir);
    int fd() const { return fd_.get(); }

  private:
    UniqueFd fd_;
};

}  // namespace shuttle::datapath
