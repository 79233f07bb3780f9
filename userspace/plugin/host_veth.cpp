#include "plugin/host_veth.h"

#include <cstdint>
#include <cstdio>

namespace shuttle::plugin {

std::string host_veth_name(const std::string& container_id, const std::string& ifname,
                           int attempt) {
    uint64_t hash = 14695981039346656037ull;
    auto mix = [&](const std::string& text) {
        for (unsigned char c : text) {
            hash ^= c;
            hash *= 1099511628211ull;
        }
    };
    mix(container_id);
    mix(std::string(1, '\0'));
    mix(ifname);
    if (attempt > 0)
        mix("#" + std::to_string(attempt));
    char name[16];
    std::snprintf(name, sizeof name, "sh%013llx",
                  static_cast<unsigned long long>(hash & 0xfffffffffffffull));
    return name;
}

bool is_host_veth_name(const std::string& name) {
    if (name.size() != 15 || name.rfind("sh", 0) != 0)
        return false;
    return name.find_first_not_of("0123456789abcdef", 2) == std::string::npos;
}

}  // namespace shuttle::plugin
