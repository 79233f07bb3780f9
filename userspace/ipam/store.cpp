#include "ipam/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/system_error.h"

namespace shuttle::ipam {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLineBreak = "\r\n";

std::string trim(const std::string& text) {
    auto begin = text.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos)
        return "";
    auto end = text.find_last_not_of(" \t\r\n");
    return text.substr(begin, end - begin + 1);
}

std::optional<std::string> read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_all(int fd, const std::string& data, const std::string& path) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw_errno("write " + path);
        }
        done += static_cast<size_t>(n);
    }
}

void write_file(const std::string& path, const std::string& data) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd)
        throw_errno("open " + path);
    write_all(fd.get(), data, path);
}

// Reservation files are the ones whose name is an IP address.
template <typename Visit>
void for_each_reservation(const std::string& dir, Visit visit) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (!entry.is_regular_file())
            continue;
        auto ip = IpAddress::parse(entry.path().filename().string());
        if (!ip)
            continue;
        auto content = read_text(entry.path());
        if (!content)
            continue;
        visit(*ip, trim(*content), entry.path());
    }
}

}  // namespace

Store::Store(const std::string& data_dir, const std::string& network)
    : dir_((fs::path(data_dir) / network).string()) {}

Store::Lock Store::lock() {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec)
        throw system_error(ec.value(), "create " + dir_);
    ::chmod(dir_.c_str(), 0755);
    auto path = dir_ + "/lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd)
        throw_errno("open " + path);
    while (::flock(fd.get(), LOCK_EX) < 0) {
        if (errno != EINTR)
            throw_errno("flock " + path);
    }
    return Lock(std::move(fd));
}

bool Store::reserve(const IpAddress& ip, const std::string& container_id, const std::string& ifname,
                    int range_set) {
    auto path = dir_ + "/" + ip.str();
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_EXCL | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) {
        if (errno == EEXIST)
            return false;
        throw_errno("create " + path);
    }
    try {
        write_all(fd.get(), trim(container_id) + kLineBreak + ifname, path);
        write_file(dir_ + "/last_reserved_ip." + std::to_string(range_set), ip.str());
    } catch (...) {
        ::unlink(path.c_str());
        throw;
    }
    return true;
}

std::optional<IpAddress> Store::last_reserved(int range_set) const {
    auto text = read_text(dir_ + "/last_reserved_ip." + std::to_string(range_set));
    if (!text)
        return std::nullopt;
    return IpAddress::parse(trim(*text));
}

std::vector<IpAddress> Store::get_by_id(const std::string& container_id,
                                        const std::string& ifname) const {
    std::vector<IpAddress> out;
    auto match = trim(container_id) + kLineBreak + ifname;
    for_each_reservation(dir_,
                         [&](const IpAddress& ip, const std::string& content, const fs::path&) {
                             if (content == match)
                                 out.push_back(ip);
                         });
    return out;
}

std::vector<IpAddress> Store::release_by_id(const std::string& container_id,
                                            const std::string& ifname) {
    std::vector<IpAddress> released;
    auto match = trim(container_id) + kLineBreak + ifname;
    auto release_matching = [&](const std::string& wanted) {
        for_each_reservation(
            dir_, [&](const IpAddress& ip, const std::string& content, const fs::path& path) {
                if (content == wanted && ::unlink(path.c_str()) == 0)
                    released.push_back(ip);
            });
    };
    release_matching(match);
    if (released.empty()) {
        release_matching(trim(container_id));  // host-local's old format
    }
    return released;
}

bool Store::release(const IpAddress& ip) {
    auto path = dir_ + "/" + ip.str();
    if (::unlink(path.c_str()) == 0)
        return true;
    if (errno == ENOENT)
        return false;
    throw_errno("remove " + path);
}

std::vector<Store::Reservation> Store::list() const {
    std::vector<Reservation> out;
    for_each_reservation(
        dir_, [&](const IpAddress& ip, const std::string& content, const fs::path&) {
            auto split = content.find(kLineBreak);
            if (split == std::string::npos) {
                out.push_back({ip, content, ""});
            } else {
                out.push_back({ip, content.substr(0, split), content.substr(split + 2)});
            }
        });
    return out;
}

}  // namespace shuttle::ipam
