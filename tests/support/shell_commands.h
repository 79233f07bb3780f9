// Shell commands for root integration tests: run one, require it, or read its output.
#pragma once

#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace shuttle::test {

// Exit status of `command` (output discarded), -1 when it did not exit normally.
inline int sh(const std::string& command) {
    int status = std::system((command + " >/dev/null 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline void must(const std::string& command) {
    INFO(command);
    REQUIRE(sh(command) == 0);
}

inline std::string output_of(const std::string& command) {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    REQUIRE(pipe);
    std::string out;
    std::array<char, 4096> buf{};
    while (size_t n = fread(buf.data(), 1, buf.size(), pipe.get())) {
        out.append(buf.data(), n);
    }
    return out;
}

}  // namespace shuttle::test
