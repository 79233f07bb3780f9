#include "datapath/bpffs.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "common/system_error.h"

namespace shuttle::datapath {

bool is_on_bpffs(const std::string& path) {
    struct statfs fs {};
    return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == BPF_FS_MAGIC;
}

bool path_exists(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        return true;
    }
    if (errno == ENOENT || errno == ENOTDIR) {
        return false;
    }
    throw_errno("stat " + path);
}

namespace {

void mkdir_p(const std::string& path) {
    for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
        std::string prefix = path.substr(0, slash);
        if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
            throw_errno("mkdir " + prefix);
        }
        if (slash == std::string::npos) {
            break;
        }
    }
}

bool is_under(const std::string& path, const std::string& dir) {
    std::string normal = std::filesystem::path(path).lexically_normal().string();
    return normal == dir || normal.rfind(dir + "/", 0) == 0;
}

// The directory a bpf filesystem must be mounted on for `root`: /sys/fs/bpf for a root in
// it, else the root's parent.
std::string mount_point_for(const std::string& root) {
    if (is_under(root, kBpffsMountPoint)) {
        return kBpffsMountPoint;
    }
    return std::filesystem::path(root).lexically_normal().parent_path().string();
}

[[noreturn]] void cannot_mount(const std::string& step, int err) {
    throw std::runtime_error(std::string("no bpf filesystem is mounted at ") + kBpffsMountPoint +
                             " and shuttle could not mount one (" + step + ": " +
                             std::strerror(err) +
                             "); run: " + bpffs_mount_command(kBpffsMountPoint));
}

}  // namespace

std::string bpffs_mount_command(const std::string& root) {
    std::string mount_point = mount_point_for(root);
    std::string mount = "mount -t bpf bpf " + mount_point;
    return path_exists(mount_point) ? mount : "mkdir -p " + mount_point + " && " + mount;
}

std::string mount_bpffs_if_missing(const std::string& root) {
    if (!is_under(root, kBpffsMountPoint) || is_on_bpffs(kBpffsMountPoint)) {
        return "";
    }
    if (::mkdir(kBpffsMountPoint, 0700) != 0 && errno != EEXIST) {
        cannot_mount(std::string("mkdir ") + kBpffsMountPoint, errno);
    }
    // Two ADDs at once must not stack two mounts: the second would hide the first's pins.
    UniqueFd dir(::open(kBpffsMountPoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir || ::flock(dir.get(), LOCK_EX) != 0) {
        cannot_mount(std::string("open ") + kBpffsMountPoint, errno);
    }
    if (is_on_bpffs(kBpffsMountPoint)) {
        return "";  // mounted while we waited
    }
    if (::mount("bpf", kBpffsMountPoint, "bpf", 0, "mode=0700") != 0) {
        cannot_mount("mount", errno);
    }
    return kBpffsMountPoint;
}

std::string prepare_bpffs_root(const std::string& root) {
    if (is_on_bpffs(root)) {
        return "";  // every ADD but the node's first
    }
    std::string mounted = mount_bpffs_if_missing(root);
    mkdir_p(root);
    if (!is_on_bpffs(root)) {
        throw std::runtime_error(root +
                                 " is not on a bpf filesystem; run: " + bpffs_mount_command(root));
    }
    return mounted;
}

void make_bpffs_dirs(const std::string& path) {
    mkdir_p(path);
    if (!is_on_bpffs(path)) {
        throw std::runtime_error(path + " is not on a bpf filesystem");
    }
}

UniqueFd open_pin(const std::string& path) {
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) {
        if (errno == ENOENT) {
            return UniqueFd();
        }
        throw_errno("open pin " + path);
    }
    return UniqueFd(fd);
}

void pin(int fd, const std::string& path) {
    if (bpf_obj_pin(fd, path.c_str()) != 0) {
        throw_errno("pin " + path);
    }
}

void unpin(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        throw_errno("unpin " + path);
    }
}

void require_own_directory(int dir_fd, const std::string& path) {
    struct stat st {};
    if (::fstat(dir_fd, &st) != 0) {
        throw_errno("stat " + path);
    }
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    if (st.st_uid != ::geteuid()) {
        throw std::runtime_error(path + " belongs to uid " + std::to_string(st.st_uid) +
                                 ", not to this process's user (" + std::to_string(::geteuid()) +
                                 "): not made by shuttle; remove it (rm -rf " + path + ")");
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
        throw std::runtime_error(path + " has mode " + mode +
                                 ": others could remove the pins in it; run: chmod 0700 " + path);
    }
}

DirLock::DirLock(const std::string& dir)
    : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (!fd_) {
        throw_errno("open " + dir);
    }
    while (::flock(fd_.get(), LOCK_EX) != 0) {
        if (errno != EINTR) {
            throw_errno("flock " + dir);
        }
    }
}

}  // namespace shuttle::datapath
