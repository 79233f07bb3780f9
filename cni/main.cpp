// The shuttle CNI plugin: environment + stdin -> one command -> stdout. Every failure
// becomes the spec's error object on stdout, and exit status 1.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <iterator>
#include <string>

#include "common/json_text.h"
#include "cni/config.h"
#include "cni/environment.h"
#include "cni/error.h"
#include "plugin/log.h"
#include "plugin/plugin.h"

namespace {

std::string read_stdin() {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (std::cin.bad()) {
        throw shuttle::cni::Error(shuttle::cni::kIoFailure, "cannot read the network config",
                                  "reading stdin failed");
    }
    return text;
}

int fail(const std::string& input, int code, const std::string& msg, const std::string& details) {
    auto version = shuttle::cni::error_version(input);
    std::cout << shuttle::dump_json(shuttle::cni::error_json(code, msg, details, version))
              << std::endl;
    shuttle::plugin::log_line(
        shuttle::plugin::log_file_of(input),
        "error " + std::to_string(code) + ": " + msg + (details.empty() ? "" : ": " + details));
    return 1;
}

}  // namespace

int main() {
    // Whatever umask the runtime has: no directory or file of ours writable by others.
    ::umask(022);
    std::string input;
    try {
        input = read_stdin();
        auto env = shuttle::cni::read_environment(std::getenv);
        auto output = shuttle::plugin::run(env, input);
        if (!output.empty())
            std::cout << output << std::endl;
        return 0;
    } catch (const shuttle::cni::Error& e) {
        return fail(input, e.code(), e.msg(), e.details());
    } catch (const std::exception& e) {
        return fail(input, shuttle::cni::kInternal, "internal error", e.what());
    } catch (...) {
        return fail(input, shuttle::cni::kInternal, "internal error", "unknown exception");
    }
}
