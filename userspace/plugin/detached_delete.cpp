#include "plugin/detached_delete.h"

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "common/system_error.h"
#include "common/unique_fd.h"
#include "netlink/error.h"
#include "netlink/link.h"
#include "netlink/socket.h"
#include "netns/guard.h"

namespace shuttle::plugin {

namespace {

constexpr auto kUnlistTimeout = std::chrono::seconds(3);

// A socket in the namespace that receives its link notifications.
UniqueFd link_watcher(int netns_fd) {
    netns::Guard inside(netns_fd);
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
    if (!fd)
        throw_errno("open netlink link watcher");
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = RTMGRP_LINK;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
        throw_errno("bind netlink link watcher");
    return fd;
}

enum class Heard { Nothing, Deleted, Overrun };

// Drains the watcher; Deleted once RTM_DELLINK of `ifindex` has come.
Heard read_notifications(int watcher, int ifindex) {
    alignas(nlmsghdr) char buffer[16384];
    for (;;) {
        ssize_t got = ::recv(watcher, buffer, sizeof buffer, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return errno == ENOBUFS ? Heard::Overrun : Heard::Nothing;
        }
        auto length = static_cast<unsigned>(got);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, length);
             h = NLMSG_NEXT(h, length)) {
            if (h->nlmsg_type != RTM_DELLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg)))
                continue;
            auto* info = static_cast<ifinfomsg*>(NLMSG_DATA(h));
            if (info->ifi_index == ifindex)
                return Heard::Deleted;
        }
    }
}

// In the grandchild: the delete, then its errno (0 on success) on `report`.
[[noreturn]] void delete_and_exit(netlink::Socket& socket, int ifindex, int report) {
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd <= 2; ++fd)
        ::dup2(devnull, fd);
    int status = 0;
    try {
        netlink::delete_link(socket, netlink::LinkRef(ifindex));
    } catch (const netlink::Error& e) {
        status = e.errno_value();
    } catch (...) {
        status = EIO;
    }
    if (status != 0)
        (void)!::write(report, &status, sizeof status);
    ::_exit(0);
}

// Forks the grandchild that deletes; false when it could not be started.
bool start_detached_delete(netlink::Socket& socket, int ifindex, int report) {
    pid_t child = ::fork();
    if (child < 0)
        return false;
    if (child == 0) {
        pid_t grandchild = ::fork();
        if (grandchild == 0)
            delete_and_exit(socket, ifindex, report);
        ::_exit(grandchild < 0 ? 1 : 0);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool link_exists(netlink::Socket& socket, int ifindex) {
    return netlink::find_link(socket, netlink::LinkRef(ifindex)).has_value();
}

}  // namespace

void delete_link_detached(netlink::Socket& socket, int netns_fd, int ifindex,
                          const std::string& what) {
    UniqueFd watcher = link_watcher(netns_fd);
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0)
        throw_errno("pipe for " + what);
    UniqueFd report_read(pipe_fds[0]);
    UniqueFd report_write(pipe_fds[1]);
    // A link that is gone already: the grandchild's ENODEV comes back through the pipe.
    if (!start_detached_delete(socket, ifindex, report_write.get())) {
        netlink::delete_link(socket, netlink::LinkRef(ifindex));
        return;
    }
    report_write = UniqueFd();  // EOF on report_read once the grandchild has exited

    auto deadline = std::chrono::steady_clock::now() + kUnlistTimeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            break;
        pollfd fds[2] = {{watcher.get(), POLLIN, 0}, {report_read.get(), POLLIN, 0}};
        int ready = ::poll(fds, 2, static_cast<int>(left.count()));
        if (ready < 0 && errno != EINTR)
            throw_errno("wait for " + what);
        if (fds[0].revents & POLLIN) {
            Heard heard = read_notifications(watcher.get(), ifindex);
            if (heard == Heard::Deleted)
                return;
            if (heard == Heard::Overrun && !link_exists(socket, ifindex))
                return;
        }
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            int status = 0;
            if (::read(report_read.get(), &status, sizeof status) == sizeof status && status != 0)
                throw netlink::Error(status, what);
            if (!link_exists(socket, ifindex))
                return;  // the grandchild finished before its notification was read
            break;
        }
    }
    // No word from the grandchild in time: delete here, and report what the kernel says.
    netlink::delete_link(socket, netlink::LinkRef(ifindex));
}

}  // namespace shuttle::plugin
