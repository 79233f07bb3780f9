#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace shuttle {

// A failed system call, with what was being done: "open /run/netns/x: No such file or directory".
inline std::system_error system_error(int err, const std::string& what) {
    return std::system_error(err, std::generic_category(), what);
}

[[noreturn]] inline void throw_errno(const std::string& what) {
    throw system_error(errno, what);
}

}  // namespace shuttle
