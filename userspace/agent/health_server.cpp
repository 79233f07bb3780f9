#include "agent/health_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

#include "common/ip.h"
#include "common/system_error.h"

namespace shuttle::agent {
namespace {

sockaddr_in parse_listen_address(const std::string& address) {
    auto colon = address.rfind(':');
    auto ip = IpAddress::parse(colon == std::string::npos ? "" : address.substr(0, colon));
    int port = -1;
    try {
        port = std::stoi(address.substr(colon + 1));
    } catch (const std::exception&) {
    }
    if (!ip || !ip->is_v4() || port < 0 || port > 65535) {
        throw std::invalid_argument("--healthz-addr: \"" + address + "\" is not IPv4:port");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    std::memcpy(&addr.sin_addr, ip->bytes.data(), 4);
    return addr;
}

void send_all(int fd, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
        auto n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            return;
        }
        sent += n;
    }
}

}  // namespace

HealthServer::HealthServer(const std::string& address, ReadyCheck ready)
    : ready_(std::move(ready)) {
    auto addr = parse_listen_address(address);
    listener_.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        throw_errno("listen on " + address);
    }
    if (listen(listener_.get(), 16) != 0) {
        throw_errno("listen on " + address);
    }
    socklen_t len = sizeof addr;
    getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    wake_.reset(eventfd(0, EFD_CLOEXEC));
    thread_ = std::thread([this] { serve(); });
}

HealthServer::~HealthServer() {
    uint64_t one = 1;
    [[maybe_unused]] auto n = write(wake_.get(), &one, sizeof one);
    thread_.join();
}

void HealthServer::serve() {
    while (true) {
        pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            continue;
        }
        if (fds[1].revents) {
            return;
        }
        UniqueFd client(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (client) {
            answer(client.get());
        }
    }
}

void HealthServer::answer(int client) {
    // One thread answers every client: the request line must arrive within a second in all,
    // or a client sending a byte now and then would hold the probes off for hours.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    timeval timeout{1, 0};
    setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    std::string request;
    char buffer[1024];
    while (request.find("\r\n") == std::string::npos && request.size() < 8192) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        pollfd readable{client, POLLIN, 0};
        if (left <= 0 || poll(&readable, 1, static_cast<int>(left)) <= 0) {
            return;
        }
        auto n = recv(client, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n <= 0) {
            return;
        }
        request.append(buffer, n);
    }
    // "GET /readyz HTTP/1.1"
    auto first_space = request.find(' ');
    auto second_space = request.find(' ', first_space + 1);
    std::string path = first_space == std::string::npos
                           ? ""
                           : request.substr(first_space + 1, second_space - first_space - 1);
    int status = 200;
    std::string body;
    if (path == "/healthz") {
        body = "ok\n";
    } else if (path == "/readyz") {
        auto [ok, text] = ready_();
        status = ok ? 200 : 503;
        body = text;
    } else {
        status = 404;
        body = "not found\n";
    }
    std::string reason = status == 200 ? "OK" : status == 503 ? "Service Unavailable" : "Not Found";
    send_all(client, "HTTP/1.1 " + std::to_string(status) + " " + reason +
                         "\r\nContent-Type: text/plain\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

}  // namespace shuttle::agent
