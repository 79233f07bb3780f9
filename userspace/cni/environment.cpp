#include "cni/environment.h"

#include <cctype>

#include "cni/error.h"

namespace shuttle::cni {

namespace {

Command parse_command(const std::string& text) {
    if (text == "ADD")
        return Command::Add;
    if (text == "DEL")
        return Command::Del;
    if (text == "CHECK")
        return Command::Check;
    if (text == "STATUS")
        return Command::Status;
    if (text == "GC")
        return Command::Gc;
    if (text == "VERSION")
        return Command::Version;
    throw Error(kInvalidEnvironment, "unknown CNI_COMMAND", text);
}

std::string read(const GetEnv& getenv, const char* name) {
    const char* value = getenv(name);
    return value ? value : "";
}

void require(const std::string& value, const char* name) {
    if (value.empty()) {
        throw Error(kInvalidEnvironment,
                    std::string("required environment variable ") + name + " is missing");
    }
}

}  // namespace

const char* command_name(Command command) {
    switch (command) {
        case Command::Add:
            return "ADD";
        case Command::Del:
            return "DEL";
        case Command::Check:
            return "CHECK";
        case Command::Status:
            return "STATUS";
        case Command::Gc:
            return "GC";
        case Command::Version:
            return "VERSION";
    }
    return "?";
}

bool is_valid_identifier(const std::string& text) {
    if (text.empty() || !std::isalnum(static_cast<unsigned char>(text[0]))) {
        return false;
    }
    for (unsigned char c : text) {
        if (!std::isalnum(c) && c != '_' && c != '.' && c != '-') {
            return false;
        }
    }
    return true;
}

bool is_valid_ifname(const std::string& text) {
    if (text.empty() || text.size() > 15 || text == "." || text == "..") {
        return false;
    }
    for (unsigned char c : text) {
        if (c == '/' || c == ':' || std::isspace(c)) {
            return false;
        }
    }
    return true;
}

Environment read_environment(const GetEnv& getenv) {
    auto command_text = read(getenv, "CNI_COMMAND");
    require(command_text, "CNI_COMMAND");
    Environment env;
    env.command = parse_command(command_text);
    env.container_id = read(getenv, "CNI_CONTAINERID");
    env.netns = read(getenv, "CNI_NETNS");
    env.ifname = read(getenv, "CNI_IFNAME");
    env.path = read(getenv, "CNI_PATH");
    env.args_text = read(getenv, "CNI_ARGS");

    bool per_container =
        env.command == Command::Add || env.command == Command::Del || env.command == Command::Check;
    if (per_container) {
        require(env.container_id, "CNI_CONTAINERID");
        if (!is_valid_identifier(env.container_id)) {
            throw Error(kInvalidEnvironment, "invalid CNI_CONTAINERID",
                        "\"" + env.container_id + "\" must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$");
        }
        if (env.command != Command::Del) {
            require(env.netns, "CNI_NETNS");
        }
        require(env.ifname, "CNI_IFNAME");
        if (!is_valid_ifname(env.ifname)) {
            throw Error(kInvalidEnvironment, "invalid CNI_IFNAME",
                        "\"" + env.ifname + "\" is not a valid interface name");
        }
    }
    if (env.command != Command::Version) {
        require(env.path, "CNI_PATH");
    }
    if (per_container) {
        env.args = parse_cni_args(env.args_text);
    }
    return env;
}

}  // namespace shuttle::cni
