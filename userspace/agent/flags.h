#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace shuttle::agent {

// One command-line flag; every flag can also come from the environment as
// SHUTTLED_<NAME in upper case, '-' -> '_'> (the command line wins).
struct FlagSpec {
    std::string name;           // without "--"
    std::string default_value;  // "" = unset
    bool boolean = false;
    std::string help;
};

const std::vector<FlagSpec>& flag_specs();

// name -> value, with defaults, then the environment, then argv applied. Throws
// std::invalid_argument for an unknown flag or a missing value.
std::map<std::string, std::string> parse_flags(int argc, char** argv);

std::string env_name(const std::string& flag);
std::string usage();

// Go-style durations ("24h", "90m", "1h30m", "10s", "500ms"); a bare number is in
// bare_unit_seconds (flannel's --subnet-lease-renew-margin is in minutes).
std::chrono::seconds parse_duration(const std::string& flag, const std::string& text,
                                    int bare_unit_seconds);
bool parse_bool(const std::string& flag, const std::string& text);

}  // namespace shuttle::agent
