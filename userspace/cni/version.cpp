#include "cni/version.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "cni/error.h"

namespace shuttle::cni {

namespace {

std::array<int, 3> parse_version(std::string_view text) {
    std::array<int, 3> parts{};
    size_t index = 0;
    const char* p = text.data();
    const char* end = text.data() + text.size();
    while (true) {
        if (index == parts.size()) {
            break;
        }
        auto [next, ec] = std::from_chars(p, end, parts[index]);
        if (ec != std::errc() || parts[index] < 0) {
            throw Error(kIncompatibleVersion, "invalid version", std::string(text));
        }
        ++index;
        p = next;
        if (p == end) {
            break;
        }
        if (*p != '.') {
            throw Error(kIncompatibleVersion, "invalid version", std::string(text));
        }
        ++p;
    }
    if (p != end || index == 0) {
        throw Error(kIncompatibleVersion, "invalid version", std::string(text));
    }
    return parts;
}

}  // namespace

const std::vector<std::string>& supported_versions() {
    static const std::vector<std::string> versions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
    return versions;
}

bool is_supported_version(std::string_view version) {
    const auto& all = supported_versions();
    return std::find(all.begin(), all.end(), version) != all.end();
}

int compare_versions(std::string_view a, std::string_view b) {
    auto pa = parse_version(a);
    auto pb = parse_version(b);
    return pa < pb ? -1 : (pa == pb ? 0 : 1);
}

nlohmann::json version_info() {
    return {{"cniVersion", std::string(kCurrentVersion)},
            {"supportedVersions", supported_versions()}};
}

}  // namespace shuttle::cni
