#include "plugin/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>

#include <nlohmann/json.hpp>

namespace shuttle::plugin {

void log_line(const std::string& log_file, const std::string& text) {
    try {
        std::fprintf(stderr, "shuttle: %s\n", text.c_str());
        if (log_file.empty())
            return;
        std::time_t now = std::time(nullptr);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
        std::ofstream out(log_file, std::ios::app);
        out << stamp << " [" << ::getpid() << "] " << text << "\n";
    } catch (...) {
    }
}

std::string log_file_of(const std::string& stdin_text) {
    try {
        auto root = nlohmann::json::parse(stdin_text);
        auto it = root.find("logFile");
        if (it != root.end() && it->is_string())
            return it->get<std::string>();
    } catch (...) {
    }
    return "";
}

}  // namespace shuttle::plugin
