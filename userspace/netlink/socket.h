#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "netlink/message.h"

namespace shuttle::netlink {

// An rtnetlink (NETLINK_ROUTE) socket.
//
// A netlink socket belongs to the network namespace of the thread that opened it, for its
// whole life: open it inside a netns::Guard and it keeps talking to that namespace after the
// guard has returned the thread. Open one per namespace you work in.
//
// Not thread-safe; one request at a time.
class Socket {
  public:
    Socket();
    // A socket bound to the namespace behind `netns_fd`, opened without leaving the calling
    // thread in it.
    static Socket in_netns(int netns_fd);
    Socket(Socket&&) = default;
    Socket& operator=(Socket&&) = default;

    // Sends `message` with NLM_F_REQUEST | NLM_F_ACK and waits for the kernel's ack. Returns the
    // messages the kernel sent before it (a GET's answer; empty for changes). On a negative
    // ack throws netlink::Error with `what` as its operation text.
    std::vector<Message> request(MessageBuilder& message, const std::string& what);

    // Sends `message` with NLM_F_REQUEST | NLM_F_DUMP and collects every (multipart) answer up
    // to NLMSG_DONE. Retries when the kernel reports the dump was interrupted by a change.
    std::vector<Message> dump(MessageBuilder& message, const std::string& what);

    int fd() const { return fd_.get(); }

  private:
    void send(MessageBuilder& message, const std::string& what);
    std::vector<Message> receive_until_done(uint32_t sequence, const std::string& what);
    std::vector<uint8_t> receive_datagram(const std::string& what);

    UniqueFd fd_;
    uint32_t next_sequence_ = 1;
};

}  // namespace shuttle::netlink
