// shuttle-loadgen: the benchmark's own load generators where iperf3 and sockperf fall
// short. Built by tools/bench/bench.sh with g++ (not part of the CMake build).
//
//   shuttle-loadgen udp-server <ip> <port>
//   shuttle-loadgen udp-client <ip> <port> <seconds> [size=64] [window=64]
//       Small-packet rate. The client sends windows of <window> datagrams; the server
//       acknowledges each window with the number it received, and the client sends the
//       next window only then. Nothing queues up or gets dropped, so the rate is the CPU
//       cost per packet of the path (iperf3 -u measures its own sender instead). Prints
//       "udp_pps <packets received per second> pkt/s".
//   shuttle-loadgen tcp-server <ip> <port>
//   shuttle-loadgen tcp-client <ip> <port> <seconds>
//       TCP connection rate: connect, receive one byte, see the server's close, close.
//       Prints "tcp_cps <connections per second> conn/s".
//   shuttle-loadgen tcp-pp-server <ip> <port>
//   shuttle-loadgen tcp-pp-client <ip> <port> <seconds> [size=64]
//       TCP ping-pong as sockperf's `pp --tcp --full-rtt -m 64` does it (one message in
//       flight, TCP_NODELAY, each round trip timed): for IPv6, which sockperf 3.7 cannot
//       address. Prints "rr_avg_us <mean> us" and "rr_p99_us <99th percentile> us".
// <ip> is an IPv4 or an IPv6 address.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/system_error.h"
#include "common/unique_fd.h"

namespace {

using shuttle::UniqueFd;
using Clock = std::chrono::steady_clock;

struct Datagram {
    uint32_t window;
    uint32_t index;
};

struct Ack {
    uint32_t window;
    uint32_t received;
};

// An IPv4 or IPv6 socket address.
struct Endpoint {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family() const { return storage.ss_family; }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

Endpoint parse_endpoint(const std::string& ip, const std::string& port) {
    Endpoint endpoint;
    auto number = htons(static_cast<uint16_t>(std::stoi(port)));
    auto* v4 = reinterpret_cast<sockaddr_in*>(&endpoint.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&endpoint.storage);
    if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = number;
        endpoint.length = sizeof *v4;
    } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = number;
        endpoint.length = sizeof *v6;
    } else {
        throw std::runtime_error("not an IP address: " + ip);
    }
    return endpoint;
}

UniqueFd open_socket(const Endpoint& address, int type) {
    UniqueFd fd(socket(address.family(), type | SOCK_CLOEXEC, 0));
    if (!fd) {
        shuttle::throw_errno("socket");
    }
    return fd;
}

void bind_to(const UniqueFd& fd, const Endpoint& address) {
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), address.get(), address.length) != 0) {
        shuttle::throw_errno("bind");
    }
}

void connect_to(const UniqueFd& fd, const Endpoint& address) {
    if (connect(fd.get(), address.get(), address.length) != 0) {
        shuttle::throw_errno("connect");
    }
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- UDP: windowed sender, acknowledging receiver -------------------------------------

[[noreturn]] void udp_server(const Endpoint& address) {
    UniqueFd fd = open_socket(address, SOCK_DGRAM);
    bind_to(fd, address);
    constexpr unsigned batch = 64;
    std::vector<std::array<char, 2048>> buffers(batch);
    std::vector<iovec> iov(batch);
    std::vector<mmsghdr> messages(batch);
    std::vector<sockaddr_storage> peers(batch);
    uint32_t window = 0, received = 0;
    for (;;) {
        for (unsigned i = 0; i < batch; ++i) {
            iov[i] = {buffers[i].data(), buffers[i].size()};
            messages[i] = {};
            messages[i].msg_hdr.msg_iov = &iov[i];
            messages[i].msg_hdr.msg_iovlen = 1;
            messages[i].msg_hdr.msg_name = &peers[i];
            messages[i].msg_hdr.msg_namelen = sizeof peers[i];
        }
        int count = recvmmsg(fd.get(), messages.data(), batch, MSG_WAITFORONE, nullptr);
        if (count < 0) {
            shuttle::throw_errno("recvmmsg");
        }
        for (int i = 0; i < count; ++i) {
            if (messages[i].msg_len < 12) {  // window, index, window size
                continue;
            }
            Datagram datagram;
            uint32_t window_size;
            std::memcpy(&datagram, buffers[i].data(), sizeof datagram);
            std::memcpy(&window_size, buffers[i].data() + sizeof datagram, sizeof window_size);
            if (datagram.window != window) {
                window = datagram.window;
                received = 0;
            }
            ++received;
            if (datagram.index + 1 == window_size) {
                Ack ack{window, received};
                sendto(fd.get(), &ack, sizeof ack, 0, reinterpret_cast<const sockaddr*>(&peers[i]),
                       messages[i].msg_hdr.msg_namelen);
            }
        }
    }
}

void udp_client(const Endpoint& address, double seconds, unsigned size, unsigned window) {
    if (size < 12 || size > 2048 || window == 0 || window > 1024) {
        throw std::runtime_error("size must be 12..2048 and window 1..1024");
    }
    UniqueFd fd = open_socket(address, SOCK_DGRAM);
    connect_to(fd, address);
    std::vector<std::vector<char>> payloads(window, std::vector<char>(size, 'x'));
    std::vector<iovec> iov(window);
    std::vector<mmsghdr> messages(window);
    uint64_t delivered = 0, lost_windows = 0;
    uint32_t window_id = 0;
    auto start = Clock::now();
    while (seconds_since(start) < seconds) {
        ++window_id;
        for (unsigned i = 0; i < window; ++i) {
            Datagram datagram{window_id, i};
            std::memcpy(payloads[i].data(), &datagram, sizeof datagram);
            std::memcpy(payloads[i].data() + sizeof datagram, &window, sizeof window);
            iov[i] = {payloads[i].data(), size};
            messages[i] = {};
            messages[i].msg_hdr.msg_iov = &iov[i];
            messages[i].msg_hdr.msg_iovlen = 1;
        }
        for (unsigned sent = 0; sent < window;) {
            int count = sendmmsg(fd.get(), messages.data() + sent, window - sent, 0);
            if (count < 0) {
                shuttle::throw_errno("sendmmsg");
            }
            sent += static_cast<unsigned>(count);
        }
        // Wait for this window's ack; a lost last datagram means no ack: move on.
        for (;;) {
            pollfd pfd{fd.get(), POLLIN, 0};
            if (poll(&pfd, 1, 100) <= 0) {
                ++lost_windows;
                break;
            }
            Ack ack;
            if (recv(fd.get(), &ack, sizeof ack, 0) == sizeof ack && ack.window == window_id) {
                delivered += ack.received;
                break;
            }
        }
    }
    double elapsed = seconds_since(start);
    if (lost_windows) {
        std::fprintf(stderr, "udp-client: %llu windows without ack\n",
                     static_cast<unsigned long long>(lost_windows));
    }
    std::printf("udp_pps %.0f pkt/s\n", static_cast<double>(delivered) / elapsed);
}

// ---- TCP: connection rate ---------------------------------------------------------------

[[noreturn]] void tcp_server(const Endpoint& address) {
    UniqueFd listener = open_socket(address, SOCK_STREAM);
    bind_to(listener, address);
    if (listen(listener.get(), 4096) != 0) {
        shuttle::throw_errno("listen");
    }
    for (;;) {
        UniqueFd connection(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!connection) {
            continue;
        }
        char byte = 'x';
        (void)!write(connection.get(), &byte, 1);
    }  // the server closes first: TIME_WAIT stays on the server side
}

void tcp_client(const Endpoint& address, double seconds) {
    uint64_t connections = 0;
    auto start = Clock::now();
    while (seconds_since(start) < seconds) {
        UniqueFd fd = open_socket(address, SOCK_STREAM);
        connect_to(fd, address);
        char buffer[16];
        while (read(fd.get(), buffer, sizeof buffer) > 0) {
        }
        ++connections;
    }
    std::printf("tcp_cps %.0f conn/s\n", static_cast<double>(connections) / seconds_since(start));
}

// ---- TCP: ping-pong round trip ---------------------------------------------------------

bool read_full(int fd, char* buffer, size_t size) {
    for (size_t done = 0; done < size;) {
        ssize_t n = read(fd, buffer + done, size - done);
        if (n <= 0) {
            return false;
        }
        done += static_cast<size_t>(n);
    }
    return true;
}

bool write_full(int fd, const char* buffer, size_t size) {
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, buffer + done, size - done);
        if (n <= 0) {
            return false;
        }
        done += static_cast<size_t>(n);
    }
    return true;
}

void no_delay(const UniqueFd& fd) {
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// One client at a time, each message echoed back whole; the first 4 bytes carry its size.
[[noreturn]] void tcp_pp_server(const Endpoint& address) {
    UniqueFd listener = open_socket(address, SOCK_STREAM);
    bind_to(listener, address);
    if (listen(listener.get(), 16) != 0) {
        shuttle::throw_errno("listen");
    }
    for (;;) {
        UniqueFd connection(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!connection) {
            continue;
        }
        no_delay(connection);
        uint32_t size = 0;
        if (!read_full(connection.get(), reinterpret_cast<char*>(&size), sizeof size) ||
            size < sizeof size || size > 65536) {
            continue;
        }
        std::vector<char> message(size);
        std::memcpy(message.data(), &size, sizeof size);
        if (!read_full(connection.get(), message.data() + sizeof size, size - sizeof size)) {
            continue;
        }
        while (write_full(connection.get(), message.data(), size) &&
               read_full(connection.get(), message.data(), size)) {
        }
    }
}

void tcp_pp_client(const Endpoint& address, double seconds, uint32_t size) {
    if (size < 4 || size > 65536) {
        throw std::runtime_error("size must be 4..65536");
    }
    UniqueFd fd = open_socket(address, SOCK_STREAM);
    connect_to(fd, address);
    no_delay(fd);
    std::vector<char> message(size, 'x');
    std::memcpy(message.data(), &size, sizeof size);
    std::vector<double> rtts;
    rtts.reserve(1 << 20);
    auto start = Clock::now();
    while (seconds_since(start) < seconds) {
        auto sent = Clock::now();
        if (!write_full(fd.get(), message.data(), size) ||
            !read_full(fd.get(), message.data(), size)) {
            throw std::runtime_error("tcp-pp: the server closed the connection");
        }
        rtts.push_back(std::chrono::duration<double, std::micro>(Clock::now() - sent).count());
    }
    if (rtts.empty()) {
        throw std::runtime_error("tcp-pp: no round trip in time");
    }
    double sum = 0;
    for (double rtt : rtts) {
        sum += rtt;
    }
    auto p99 = rtts.begin() + static_cast<long>((rtts.size() - 1) * 99 / 100);
    std::nth_element(rtts.begin(), p99, rtts.end());
    std::printf("rr_avg_us %.3f us\n", sum / static_cast<double>(rtts.size()));
    std::printf("rr_p99_us %.3f us\n", *p99);
}

int usage() {
    std::fprintf(stderr,
                 "usage: shuttle-loadgen udp-server|tcp-server|tcp-pp-server <ip> <port>\n"
                 "       shuttle-loadgen udp-client <ip> <port> <seconds> [size] [window]\n"
                 "       shuttle-loadgen tcp-client <ip> <port> <seconds>\n"
                 "       shuttle-loadgen tcp-pp-client <ip> <port> <seconds> [size]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() < 3) {
        return usage();
    }
    try {
        const std::string& mode = args[0];
        Endpoint address = parse_endpoint(args[1], args[2]);
        if (mode == "udp-server") {
            udp_server(address);
        } else if (mode == "tcp-server") {
            tcp_server(address);
        } else if (mode == "udp-client" && args.size() >= 4) {
            unsigned size = args.size() > 4 ? std::stoul(args[4]) : 64;
            unsigned window = args.size() > 5 ? std::stoul(args[5]) : 64;
            udp_client(address, std::stod(args[3]), size, window);
        } else if (mode == "tcp-client" && args.size() >= 4) {
            tcp_client(address, std::stod(args[3]));
        } else if (mode == "tcp-pp-server") {
            tcp_pp_server(address);
        } else if (mode == "tcp-pp-client" && args.size() >= 4) {
            tcp_pp_client(address, std::stod(args[3]),
                          args.size() > 4 ? static_cast<uint32_t>(std::stoul(args[4])) : 64);
        } else {
            return usage();
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "shuttle-loadgen: %s\n", e.what());
        return 1;
    }
    return 0;
}
