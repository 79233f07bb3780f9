#include "netns/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "common/system_error.h"
#include "common/unique_fd.h"

namespace shuttle::netns {

namespace {

void write_file(const std::string& path, const std::string& value) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) {
        throw_errno("write sysctl " + path);
    }
    ssize_t written = ::write(fd.get(), value.data(), value.size());
    if (written < 0) {
        throw_errno("write sysctl " + path + " = " + value);
    }
}

std::string read_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        throw_errno("read sysctl " + path);
    }
    std::string content;
    char buffer[256];
    for (;;) {
        ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
        if (got < 0) {
            throw_errno("read sysctl " + path);
        }
        if (got == 0) {
            break;
        }
        content.append(buffer, static_cast<size_t>(got));
    }
    while (!content.empty() && content.back() == '\n') {
        content.pop_back();
    }
    return content;
}

}  // namespace

std::string sysctl_path(const std::string& key) {
    std::string relative = key;
    if (relative.find('/') == std::string::npos) {
        std::replace(relative.begin(), relative.end(), '.', '/');
    }
    return "/proc/sys/" + relative;
}

std::string interface_sysctl_path(const std::string& family, const std::string& interface,
                                  const std::string& setting) {
    return "/proc/sys/net/" + family + "/conf/" + interface + "/" + setting;
}

void write_sysctl(const std::string& key, const std::string& value) {
    write_file(sysctl_path(key), value);
}

std::string read_sysctl(const std::string& key) {
    return read_file(sysctl_path(key));
}

void write_interface_sysctl(const std::string& family, const std::string& interface,
                            const std::string& setting, const std::string& value) {
    write_file(interface_sysctl_path(family, interface, setting), value);
}

std::string read_interface_sysctl(const std::string& family, const std::string& interface,
                                  const std::string& setting) {
    return read_file(interface_sysctl_path(family, interface, setting));
}

}  // namespace shuttle::netns
