#pragma once

#include <string>

namespace shuttle::plugin {

// One line to stderr and, when `log_file` is set, appended to that file with a timestamp.
// Never throws: logging must not turn a result into an error.
void log_line(const std::string& log_file, const std::string& text);

// The logFile of a raw stdin config, or "" when it has none or cannot be read.
std::string log_file_of(const std::string& stdin_text);

}  // namespace shuttle::plugin
