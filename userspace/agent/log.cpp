#include "agent/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace shuttle::agent {
namespace {

void write_line(const char* level, const std::string& text) {
    static std::mutex mutex;
    auto now = std::chrono::system_clock::now();
    auto seconds = std::chrono::system_clock::to_time_t(now);
    auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    std::lock_guard lock(mutex);
    std::fprintf(stderr, "%s.%03dZ shuttled %s: %s\n", stamp, int(millis.count()), level,
                 text.c_str());
    std::fflush(stderr);
}

}  // namespace

void log_info(const std::string& text) {
    write_line("info", text);
}

void log_error(const std::string& text) {
    write_line("error", text);
}

}  // namespace shuttle::agent
