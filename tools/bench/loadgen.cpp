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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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

sockaddr_in parse_endpoint(const std::string& ip, const std::string& port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(std::stoi(port)));
    if (inet_pton(AF_INET, ip.c_str(), &address.sin_addr) != 1) {
        throw std::runtime_error("not an IPv4 address: " + ip);
    }
    return address;
}

UniqueFd open_socket(int type) {
    UniqueFd fd(socket(AF_INET, type | SOCK_CLOEXEC, 0));
    if (!fd) {
        shuttle::throw_errno("socket");
    }
    return fd;
}

void bind_to(const UniqueFd& fd, const sockaddr_in& address) {
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        shuttle::throw_errno("bind");
    }
}

void connect_to(const UniqueFd& fd, const sockaddr_in& address) {
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        shuttle::throw_errno("connect");
    }
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- UDP: windowed sender, acknowledging receiver -------------------------------------

[[noreturn]] void udp_server(const sockaddr_in& address) {
    UniqueFd fd = open_socket(SOCK_DGRAM);
    bind_to(fd, address);
    constexpr unsigned batch = 64;
    std::vector<std::array<char, 2048>> buffers(batch);
    std::vector<iovec> iov(batch);
    std::vector<mmsghdr> messages(batch);
    std::vector<sockaddr_in> peers(batch);
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
                       sizeof peers[i]);
            }
        }
    }
}

void udp_client(const sockaddr_in& address, double seconds, unsigned size, unsigned window) {
    if (size < 12 || size > 2048 || window == 0 || window > 1024) {
        throw std::runtime_error("size must be 12..2048 and window 1..1024");
    }
    UniqueFd fd = open_socket(SOCK_DGRAM);
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

[[noreturn]] void tcp_server(const sockaddr_in& address) {
    UniqueFd listener = open_socket(SOCK_STREAM);
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

void tcp_client(const sockaddr_in& address, double seconds) {
    uint64_t connections = 0;
    auto start = Clock::now();
    while (seconds_since(start) < seconds) {
        UniqueFd fd = open_socket(SOCK_STREAM);
        connect_to(fd, address);
        char buffer[16];
        while (read(fd.get(), buffer, sizeof buffer) > 0) {
        }
        ++connections;
    }
    std::printf("tcp_cps %.0f conn/s\n", static_cast<double>(connections) / seconds_since(start));
}

int usage() {
    std::fprintf(stderr,
                 "usage: shuttle-loadgen udp-server|tcp-server <ip> <port>\n"
                 "       shuttle-loadgen udp-client <ip> <port> <seconds> [size] [window]\n"
                 "       shuttle-loadgen tcp-client <ip> <port> <seconds>\n");
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
        sockaddr_in address = parse_endpoint(args[1], args[2]);
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
        } else {
            return usage();
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "shuttle-loadgen: %s\n", e.what());
        return 1;
    }
    return 0;
}
