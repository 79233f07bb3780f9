#include "netlink/socket.h"

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/system_error.h"
#include "netlink/error.h"
#include "netns/guard.h"

namespace shuttle::netlink {

namespace {

constexpr int kDumpAttempts = 5;

void enable_option(int fd, int option) {
    int one = 1;
    // Best effort: extended acks and capped acks only improve error messages.
    (void)setsockopt(fd, SOL_NETLINK, option, &one, sizeof one);
}

bool interrupted(const std::vector<Message>& messages) {
    for (const auto& m : messages) {
        if (m.flags() & NLM_F_DUMP_INTR) {
            return true;
        }
    }
    return false;
}

// A dump that fails part-way ends with NLMSG_DONE carrying the negative errno.
void throw_if_dump_failed(const Message& done, const std::string& what) {
    if (done.payload().size() >= sizeof(int)) {
        int status = done.family_header<int>();
        if (status < 0) {
            throw Error(-status, what);
        }
    }
}

}  // namespace

Socket::Socket() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {
    if (!fd_) {
        throw_errno("open netlink socket");
    }
    enable_option(fd_.get(), NETLINK_EXT_ACK);
    enable_option(fd_.get(), NETLINK_CAP_ACK);
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        throw_errno("bind netlink socket");
    }
}

Socket Socket::in_netns(int netns_fd) {
    netns::Guard inside(netns_fd);
    return Socket();
}

std::vector<Message> Socket::request(MessageBuilder& message, const std::string& what) {
    message.add_flags(NLM_F_REQUEST | NLM_F_ACK);
    send(message, what);
    return receive_until_done(message.sequence(), what);
}

std::vector<Message> Socket::dump(MessageBuilder& message, const std::string& what) {
    message.add_flags(NLM_F_REQUEST | NLM_F_DUMP);
    for (int attempt = 1;; ++attempt) {
        send(message, what);
        auto messages = receive_until_done(message.sequence(), what);
        if (!interrupted(messages)) {
            return messages;
        }
        if (attempt == kDumpAttempts) {
            throw Error(EAGAIN, what, "dump kept being interrupted by concurrent changes");
        }
    }
}

void Socket::send(MessageBuilder& message, const std::string& what) {
    message.set_sequence(next_sequence_++);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    Bytes bytes = message.bytes();
    ssize_t sent = ::sendto(fd_.get(), bytes.data(), bytes.size(), 0,
                            reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (sent < 0) {
        throw_errno(what + ": send netlink request");
    }
}

std::vector<uint8_t> Socket::receive_datagram(const std::string& what) {
    for (;;) {
        // Peek with MSG_TRUNC to learn the datagram's full size, then read it whole.
        ssize_t size = ::recv(fd_.get(), nullptr, 0, MSG_PEEK | MSG_TRUNC);
        if (size < 0 && errno == EINTR) {
            continue;
        }
        if (size < 0) {
            throw_errno(what + ": receive netlink reply");
        }
        std::vector<uint8_t> buffer(static_cast<size_t>(size));
        ssize_t got = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            throw_errno(what + ": receive netlink reply");
        }
        buffer.resize(static_cast<size_t>(got));
        return buffer;
    }
}

std::vector<Message> Socket::receive_until_done(uint32_t sequence, const std::string& what) {
    std::vector<Message> replies;
    for (;;) {
        for (auto& message : split_messages(receive_datagram(what))) {
            if (message.sequence() != sequence) {
                continue;  // a late answer to an earlier request that threw
            }
            if (message.type() == NLMSG_ERROR) {
                Ack ack = parse_ack(message);
                if (ack.error != 0) {
                    throw Error(ack.error, what, ack.message);
                }
                return replies;
            }
            if (message.type() == NLMSG_DONE) {
                throw_if_dump_failed(message, what);
                return replies;
            }
            replies.push_back(std::move(message));
        }
    }
}

}  // namespace shuttle::netlink
