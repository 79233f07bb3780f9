#include "datapath/bpffs.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>

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

void make_bpffs_dirs(const std::string& path) {
    for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
        std::string prefix = path.substr(0, slash);
        if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
            throw_errno("mkdir " + prefix);
        }
        if (slash == std::string::npos) {
            break;
        }
    }
    if (!is_on_bpffs(path)) {
        throw std::runtime_error(path + " is not on a bpf filesystem (mount -t bpf bpf <dir>)");
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
