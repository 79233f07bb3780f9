#pragma once

#include <string>

namespace shuttle::agent {

// One line on stderr with a UTC timestamp: "2026-11-29T18:00:00.123Z shuttled: <text>".
void log_info(const std::string& text);
void log_error(const std::string& text);

}  // namespace shuttle::agent
