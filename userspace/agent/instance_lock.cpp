#include "agent/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "common/system_error.h"

namespace shuttle::agent {

namespace {

std::string read_holder(int fd) {
    char buffer[32] = {};
    ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
    std::string text(buffer, n > 0 ? static_cast<size_t>(n) : 0);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    return text.empty() ? "unknown" : text;
}

}  // namespace

std::string instance_lock_path(const std::string& subnet_file) {
    return subnet_file + ".lock";
}

InstanceLock::InstanceLock(const std::string& subnet_file)
    : path_(instance_lock_path(subnet_file)) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    fd_ = UniqueFd(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd_)
        throw_errno("open " + path_);
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            throw_errno("flock " + path_);
        throw AlreadyRunning("another shuttled (pid " + read_holder(fd_.get()) +
                             ") runs on this node: it holds " + path_ +
                             "; stop it first (this one changed nothing)");
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_.get(), 0) != 0 ||
        ::pwrite(fd_.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
        throw_errno("write " + path_);
}

}  // namespace shuttle::agent
