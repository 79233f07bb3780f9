#pragma once

#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "common/unique_fd.h"

namespace shuttle::agent {

// A tiny HTTP/1.0-style server for /healthz (always 200 while the process runs) and /readyz
// (200 or 503 with the reasons in the body). One thread; one request per connection.
class HealthServer {
  public:
    // ok + body for /readyz.
    using ReadyCheck = std::function<std::pair<bool, std::string>()>;

    // address: "127.0.0.1:9465" (port 0 picks a free one). Throws when it cannot listen.
    HealthServer(const std::string& address, ReadyCheck ready);
    ~HealthServer();
    HealthServer(const HealthServer&) = delete;
    HealthServer& operator=(const HealthServer&) = delete;

    int port() const { return port_; }

  private:
    void serve();
    void answer(int client);

    ReadyCheck ready_;
    UniqueFd listener_;
    UniqueFd wake_;  // eventfd: tells serve() to return
    int port_ = 0;
    std::thread thread_;
};

}  // namespace shuttle::agent
