#pragma once

#include <functional>
#include <string>

#include "cni/args.h"

namespace shuttle::cni {

enum class Command { Add, Del, Check, Status, Gc, Version };

// The CNI_* variables of one invocation, validated for its command.
struct Environment {
    Command command = Command::Version;
    std::string container_id;  // CNI_CONTAINERID
    std::string netns;         // CNI_NETNS (may be empty on DEL)
    std::string ifname;        // CNI_IFNAME
    std::string path;          // CNI_PATH
    std::string args_text;     // CNI_ARGS as given
    CniArgs args;
};

using GetEnv = std::function<const char*(const char*)>;

// Throws Error(kInvalidEnvironment) naming the variable that is missing or malformed.
Environment read_environment(const GetEnv& getenv);

const char* command_name(Command command);

// ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$ (container IDs and network names).
bool is_valid_identifier(const std::string& text);
// Linux interface names: 1..15 bytes, not "." or "..", no '/', ':' or whitespace.
bool is_valid_ifname(const std::string& text);

}  // namespace shuttle::cni
