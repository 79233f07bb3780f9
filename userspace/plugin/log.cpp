#include "plugin/log.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/json_text.h"

namespace shuttle::plugin {

namespace {

void append(const std::string& log_file, const std::string& text) {
    if (log_file.empty())
        return;
    try {
        std::time_t now = std::time(nullptr);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
        std::ofstream out(log_file, std::ios::app);
        out << stamp << " [" << ::getpid() << "] " << text << "\n";
    } catch (...) {
    }
}

}  // namespace

void log_line(const std::string& log_file, const std::string& text) {
    std::fprintf(stderr, "shuttle: %s\n", text.c_str());
    append(log_file, text);
}

void log_info(const std::string& log_file, const std::string& text) {
    append(log_file, text);
}

std::string log_file_of(const std::string& stdin_text) {
    try {
        auto root = parse_json(stdin_text);
        auto it = root.find("logFile");
        if (it != root.end() && it->is_string())
            return it->get<std::string>();
    } catch (...) {
    }
    return "";
}

}  // namespace shuttle::plugin
