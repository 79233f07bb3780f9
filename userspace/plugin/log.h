#pragma once

#include <string>

namespace shuttle::plugin {

// Warnings and errors: one line to stderr and, when `log_file` is set, appended to that file
// with a timestamp. Never throws: logging must not turn a result into an error.
void log_line(const std::string& log_file, const std::string& text);
// Routine lines (each command as it starts): the log file only, runtimes keep stderr quiet.
void log_info(const std::string& log_file, const std::string& text);

// The logFile of a raw stdin config, or "" when it has none or cannot be read.
std::string log_file_of(const std::string& stdin_text);

}  // namespace shuttle::plugin
