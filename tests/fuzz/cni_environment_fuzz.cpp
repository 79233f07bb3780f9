// The CNI_* environment of one invocation, one "NAME=VALUE" per line: read_environment
// either accepts it or throws cni::Error code 4.
#include <map>
#include <string>

#include "cni/environment.h"
#include "cni/error.h"
#include "fuzz_input.h"

using namespace shuttle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::map<std::string, std::string> vars;
    auto text = fuzz::as_text(data, size);
    while (!text.empty()) {
        auto end = text.find('\n');
        auto line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        auto eq = line.find('=');
        if (eq == std::string_view::npos)
            continue;
        std::string value(line.substr(eq + 1));
        if (value.find('\0') != std::string::npos)
            continue;  // an environment value cannot hold NUL
        vars[std::string(line.substr(0, eq))] = value;
    }
    cni::GetEnv getenv = [&](const char* name) -> const char* {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
    try {
        auto env = cni::read_environment(getenv);
        if (env.command == cni::Command::Add && !cni::is_valid_ifname(env.ifname))
            fuzz::broken("ADD accepted an invalid CNI_IFNAME");
    } catch (const cni::Error& e) {
        if (e.code() != cni::kInvalidEnvironment)
            fuzz::broken("environment error with a code other than 4");
    }
    return 0;
}
