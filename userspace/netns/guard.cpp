#include "netns/guard.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/system_error.h"

namespace shuttle::netns {

namespace {

void enter(int fd, const std::string& what) {
    if (::setns(fd, CLONE_NEWNET) != 0) {
        throw_errno(what);
    }
}

// Leaving the thread in the wrong namespace would make every later change land in the
// wrong place, so failing to return is fatal.
void return_or_abort(int original_fd) {
    if (::setns(original_fd, CLONE_NEWNET) != 0) {
        std::fprintf(stderr, "shuttle: cannot return to the original network namespace: %s\n",
                     std::strerror(errno));
        std::abort();
    }
}

}  // namespace

UniqueFd open(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        throw_errno("open netns " + path);
    }
    return fd;
}

UniqueFd open_current() {
    return open("/proc/thread-self/ns/net");
}

Guard::Guard(const std::string& path) : original_(open_current()) {
    UniqueFd target = open(path);
    enter(target.get(), "enter netns " + path);
}

Guard::Guard(int netns_fd) : original_(open_current()) {
    enter(netns_fd, "enter netns fd " + std::to_string(netns_fd));
}

Guard::~Guard() {
    return_or_abort(original_.get());
}

UniqueFd create_anonymous() {
    UniqueFd original = open_current();
    if (::unshare(CLONE_NEWNET) != 0) {
        throw_errno("create network namespace");
    }
    UniqueFd created(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    int open_errno = errno;
    return_or_abort(original.get());
    if (!created) {
        throw system_error(open_errno, "open the created network namespace");
    }
    return created;
}

Scratch::Scratch() : fd_(create_anonymous()), guard_(fd_.get()) {}

bool same_namespace(int fd_a, int fd_b) {
    struct stat a {};
    struct stat b {};
    if (::fstat(fd_a, &a) != 0 || ::fstat(fd_b, &b) != 0) {
        throw_errno("stat netns fd");
    }
    return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

}  // namespace shuttle::netns
