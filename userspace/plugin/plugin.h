#pragma once

#include <string>

#include "cni/environment.h"

namespace shuttle::plugin {

// Runs one CNI command (VERSION, ADD, DEL, CHECK, STATUS, GC) for `stdin_text`, the network
// config. Returns what goes to stdout: the result for ADD, the version info for VERSION,
// nothing for the others. Every failure is thrown as a cni::Error.
std::string run(const cni::Environment& env, const std::string& stdin_text);

}  // namespace shuttle::plugin
