#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace shuttle::cni {

inline constexpr std::string_view kCurrentVersion = "1.1.0";

// The versions shuttle accepts in a config and answers in: 0.3.0 ... 1.1.0.
const std::vector<std::string>& supported_versions();
bool is_supported_version(std::string_view version);

// Compares dotted versions numerically: <0, 0, >0. Throws Error(kIncompatibleVersion) on
// text that is not a version.
int compare_versions(std::string_view a, std::string_view b);

// The VERSION command's answer.
nlohmann::json version_info();

}  // namespace shuttle::cni
