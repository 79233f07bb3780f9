#pragma once

#include <map>
#include <string>

namespace shuttle::ipam {

// Finds plugin `type` in the colon-separated CNI_PATH. Throws cni::Error(kInvalidConfig)
// naming ipam.type when no directory has it.
std::string find_plugin(const std::string& type, const std::string& cni_path);

// Runs a delegated plugin per the spec: the caller's environment with CNI_COMMAND replaced,
// the network config on stdin; the delegate's stderr is ours. Returns its stdout on success.
// On a non-zero exit throws cni::Error carrying the delegate's code, msg and details (or
// kDelegateFailure with its output when that is not an error object).
// `overrides` replaces (or, with an empty value, removes) variables, e.g. CNI_CONTAINERID
// when GC deletes an attachment other than the current one.
std::string exec_plugin(const std::string& path, const std::string& command,
                        const std::string& stdin_text,
                        const std::map<std::string, std::string>& overrides = {});

// True when the plugin's VERSION answer lists `version`. Plugins older than spec 1.1.0 do
// not know STATUS and GC and answer them with unrelated errors, so ask first.
bool plugin_supports(const std::string& path, const std::string& version);

}  // namespace shuttle::ipam
