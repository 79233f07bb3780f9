#pragma once

// A throwaway folder under /tmp for one test, removed with everything in it.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace shuttle::testing {

struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& purpose) {
        std::string pattern = "/tmp/shuttle-" + purpose + "-XXXXXX";
        path = ::mkdtemp(pattern.data());
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

inline std::string read_whole_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace shuttle::testing
