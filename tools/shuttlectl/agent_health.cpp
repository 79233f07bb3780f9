#include "agent_health.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>

#include "common/ip.h"
#include "common/unique_fd.h"

namespace {

using nlohmann::json;

// "127.0.0.1:9465" -> the socket address; IPv4 only, as shuttled's --healthz-addr.
std::optional<sockaddr_in> parse_addr(const std::string& addr) {
    size_t colon = addr.rfind(':');
    if (colon == std::string::npos) {
        return std::nullopt;
    }
    auto ip = shuttle::IpAddress::parse(addr.substr(0, colon));
    int port = std::atoi(addr.c_str() + colon + 1);
    if (!ip || ip->family != AF_INET || port <= 0 || port > 65535) {
        return std::nullopt;
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&sa.sin_addr, ip->bytes.data(), 4);
    return sa;
}

json result(const std::string& addr, const std::string& state, const std::string& detail) {
    return {{"addr", addr}, {"state", state}, {"detail", detail}};
}

// The first `n` non-empty lines of `text`, joined with "; ".
std::string first_lines(const std::string& text, int n) {
    std::istringstream in(text);
    std::string line;
    std::string out;
    while (n > 0 && std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.empty()) {
            continue;
        }
        out += (out.empty() ? "" : "; ") + line;
        --n;
    }
    return out;
}

}  // namespace

json agent_health(const std::string& addr, int timeout_ms) {
    auto sa = parse_addr(addr);
    if (!sa) {
        return result(addr, "unreachable", "not an IPv4 host:port");
    }
    shuttle::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
        return result(addr, "unreachable", std::string("socket: ") + std::strerror(errno));
    }
    timeval tv{timeout_ms / 1000, static_cast<suseconds_t>(timeout_ms % 1000) * 1000};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) != 0) {
        if (errno == ECONNREFUSED) {
            return result(addr, "not running", "shuttled not running (connection refused)");
        }
        return result(addr, "unreachable", std::string("connect: ") + std::strerror(errno));
    }
    std::string request = "GET /readyz HTTP/1.0\r\nHost: " + addr + "\r\n\r\n";
    if (send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
        return result(addr, "unreachable", std::string("send: ") + std::strerror(errno));
    }
    std::string response;
    char buf[4096];
    ssize_t n;
    while (response.size() < 65536 && (n = recv(fd.get(), buf, sizeof buf, 0)) > 0) {
        response.append(buf, static_cast<size_t>(n));
    }
    // "HTTP/1.x 200 OK\r\n...\r\n\r\nbody"
    size_t space = response.find(' ');
    if (response.rfind("HTTP/", 0) != 0 || space == std::string::npos) {
        return result(addr, "unreachable", "no HTTP answer");
    }
    int status = std::atoi(response.c_str() + space + 1);
    size_t body_at = response.find("\r\n\r\n");
    std::string body = body_at == std::string::npos ? "" : response.substr(body_at + 4);
    if (status == 200) {
        return result(addr, "ready", first_lines(body, 3));
    }
    std::string detail = first_lines(body, 3);
    return result(addr, "not ready",
                  "HTTP " + std::to_string(status) + (detail.empty() ? "" : ": " + detail));
}

std::string agent_health_text(const json& health) {
    std::string state = health["state"].get<std::string>();
    std::string detail = health["detail"].get<std::string>();
    if (state == "not running") {
        return "shuttled not running (nothing listens on " + health["addr"].get<std::string>() +
               ")";
    }
    return state + (detail.empty() ? "" : " (" + detail + ")");
}
