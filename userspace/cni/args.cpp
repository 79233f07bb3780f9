#include "cni/args.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "cni/error.h"

namespace shuttle::cni {

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find(separator, start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        parts.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool parse_bool(const std::string& key, std::string_view value) {
    auto v = lower(value);
    if (v == "1" || v == "true") {
        return true;
    }
    if (v == "0" || v == "false") {
        return false;
    }
    throw Error(kInvalidEnvironment, "invalid CNI_ARGS",
                key + "=" + std::string(value) + ": expected 1, 0, true or false");
}

std::vector<IpAddress> parse_ips(std::string_view value) {
    std::vector<IpAddress> ips;
    for (auto item : split(value, ',')) {
        auto ip = parse_address_or_prefix(item);
        if (!ip) {
            throw Error(kInvalidEnvironment, "invalid CNI_ARGS",
                        "IP=" + std::string(value) + ": not an IP address");
        }
        ips.push_back(*ip);
    }
    return ips;
}

}  // namespace

CniArgs parse_cni_args(std::string_view text) {
    CniArgs args;
    if (text.empty()) {
        return args;
    }
    for (auto pair : split(text, ';')) {
        if (pair.empty()) {
            continue;
        }
        auto eq = pair.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            throw Error(kInvalidEnvironment, "invalid CNI_ARGS",
                        "\"" + std::string(pair) + "\" is not KEY=VALUE");
        }
        args.all[std::string(pair.substr(0, eq))] = std::string(pair.substr(eq + 1));
    }
    static const std::set<std::string> known = {"IgnoreUnknown", "K8S_POD_NAMESPACE",
                                                "K8S_POD_NAME",  "K8S_POD_INFRA_CONTAINER_ID",
                                                "K8S_POD_UID",   "IP"};
    if (auto it = args.all.find("IgnoreUnknown"); it != args.all.end()) {
        args.ignore_unknown = parse_bool(it->first, it->second);
    }
    for (const auto& [key, value] : args.all) {
        if (!known.count(key) && !args.ignore_unknown) {
            throw Error(kInvalidEnvironment, "invalid CNI_ARGS",
                        "unknown key " + key + "=" + value + " (set IgnoreUnknown=1 to allow)");
        }
    }
    auto get = [&](const char* key) {
        auto it = args.all.find(key);
        return it == args.all.end() ? std::string() : it->second;
    };
    args.pod_namespace = get("K8S_POD_NAMESPACE");
    args.pod_name = get("K8S_POD_NAME");
    args.pod_infra_container_id = get("K8S_POD_INFRA_CONTAINER_ID");
    args.pod_uid = get("K8S_POD_UID");
    if (auto ip = get("IP"); !ip.empty()) {
        args.ips = parse_ips(ip);
    }
    return args;
}

}  // namespace shuttle::cni
