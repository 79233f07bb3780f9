#pragma once

// A TCP forwarder on 127.0.0.1 in front of one local port, for tests that need a client's
// connections to break while the server stays up. cut_and_hold() breaks every forwarded
// connection and leaves new ones waiting in the listen backlog (connected, their request
// unread) until release() forwards them.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "etcd_test_server.h"

namespace shuttle::test {

class TcpHoldProxy {
  public:
    explicit TcpHoldProxy(int upstream_port) : upstream_port_(upstream_port) {
        listener_ = listen_on_loopback();
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~TcpHoldProxy() {
        stop_ = true;
        acceptor_.join();
        std::lock_guard lock(mutex_);
        for (auto& connection : connections_) {
            connection->cut();
            connection->pump.join();
        }
    }
    TcpHoldProxy(const TcpHoldProxy&) = delete;
    TcpHoldProxy& operator=(const TcpHoldProxy&) = delete;

    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

    // Every connection forwarded so far ends (both ends see it close); new ones wait.
    void cut_and_hold() {
        std::lock_guard lock(mutex_);
        held_ = true;
        for (auto& connection : connections_) {
            connection->cut();
        }
    }
    void release() {
        std::lock_guard lock(mutex_);
        held_ = false;
    }

  private:
    struct Connection {
        UniqueFd client, upstream;
        std::thread pump;
        void cut() const {
            shutdown(client.get(), SHUT_RDWR);
            shutdown(upstream.get(), SHUT_RDWR);
        }
    };

    UniqueFd listen_on_loopback() {
        UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        sockaddr_in addr = loopback_address(0);
        socklen_t length = sizeof addr;
        if (!fd || bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            listen(fd.get(), 16) != 0 ||
            getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
            throw std::runtime_error("TcpHoldProxy: cannot listen on 127.0.0.1");
        }
        port_ = ntohs(addr.sin_port);
        return fd;
    }

    void accept_loop() {
        while (!stop_) {
            pollfd ready{listener_.get(), POLLIN, 0};
            if (poll(&ready, 1, 20) <= 0) {
                continue;
            }
            std::unique_lock lock(mutex_);
            if (held_) {  // left in the backlog
                lock.unlock();
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                continue;
            }
            UniqueFd client(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (client) {
                forward(std::move(client));
            }
        }
    }

    // Called with mutex_ held.
    void forward(UniqueFd client) {
        UniqueFd upstream(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in addr = loopback_address(upstream_port_);
        if (!upstream ||
            connect(upstream.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            return;  // the client sees its connection closed
        }
        auto connection = std::make_unique<Connection>();
        connection->client = std::move(client);
        connection->upstream = std::move(upstream);
        Connection* raw = connection.get();
        connection->pump = std::thread([raw] { pump(*raw); });
        connections_.push_back(std::move(connection));
    }

    // Copies bytes both ways until either side closes or the connection is cut.
    static void pump(Connection& connection) {
        pollfd ends[2] = {{connection.client.get(), POLLIN, 0},
                          {connection.upstream.get(), POLLIN, 0}};
        char buffer[16384];
        while (poll(ends, 2, -1) > 0) {
            for (int i = 0; i < 2; ++i) {
                if (ends[i].revents == 0) {
                    continue;
                }
                ssize_t got = read(ends[i].fd, buffer, sizeof buffer);
                if (got <= 0 || !send_all(ends[1 - i].fd, buffer, size_t(got))) {
                    connection.cut();
                    return;
                }
            }
        }
        connection.cut();
    }

    static bool send_all(int fd, const char* data, size_t size) {
        while (size > 0) {
            ssize_t sent = send(fd, data, size, MSG_NOSIGNAL);
            if (sent <= 0) {
                return false;
            }
            data += sent;
            size -= size_t(sent);
        }
        return true;
    }

    int upstream_port_;
    int port_ = 0;
    UniqueFd listener_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    bool held_ = false;
    std::vector<std::unique_ptr<Connection>> connections_;
    std::thread acceptor_;
};

}  // namespace shuttle::test
