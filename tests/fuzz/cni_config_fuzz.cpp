// The network config on the plugin's stdin, or a conflist whose entries get the list's name and
// cniVersion injected as a runtime does: parse_netconf, the IPAM config, prevResult, and
// runtimeConfig/capabilities (runtimeConfig.ips, .mac, .bandwidth, cni.dev/valid-attachments).
// Every failure must be a cni::Error; a parsed prevResult must render in every version and
// parse back.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cni/config.h"
#include "cni/error.h"
#include "cni/result.h"
#include "cni/version.h"
#include "fuzz_input.h"
#include "ipam/config.h"

using namespace shuttle;
using nlohmann::json;

namespace {

// A conflist's plugin entries as separate configs; anything else is one config.
std::vector<std::string> configs_of(const std::string& text) {
    auto root = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!root.is_object() || !root.contains("plugins") || !root["plugins"].is_array())
        return {text};
    std::vector<std::string> out;
    for (auto entry : root["plugins"]) {
        if (!entry.is_object())
            continue;
        for (const char* key : {"name", "cniVersion"}) {
            if (root.contains(key))
                entry[key] = root[key];
        }
        out.push_back(entry.dump());
    }
    return out;
}

void check_prev_result(const json& prev) {
    cni::Result result;
    try {
        result = cni::parse_result(prev, "prevResult");
    } catch (const cni::Error&) {
        return;
    }
    for (const auto& version : cni::supported_versions()) {
        auto rendered = cni::result_json(result, version);
        try {
            cni::parse_result(rendered);
        } catch (const cni::Error& e) {
            __builtin_printf("%s: %s\n", version.c_str(), e.what());
            fuzz::broken("a result shuttle renders does not parse back");
        }
    }
}

void check_config(const std::string& text) {
    if (!cni::is_supported_version(cni::error_version(text)))
        fuzz::broken("error_version returned an unsupported version");
    try {
        auto conf = cni::parse_netconf(text);
        if (!conf.prev_result.is_null())
            check_prev_result(conf.prev_result);
        if (conf.ipam.is_object())
            ipam::parse_config(conf.ipam);
    } catch (const cni::Error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    for (const auto& config : configs_of(std::string(fuzz::as_text(data, size))))
        check_config(config);
    return 0;
}
