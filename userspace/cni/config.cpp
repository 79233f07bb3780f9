#include "cni/config.h"

#include "common/json_text.h"
#include "cni/environment.h"
#include "cni/error.h"
#include "cni/version.h"

namespace shuttle::cni {

using nlohmann::json;

namespace {

[[noreturn]] void invalid(const std::string& field, const std::string& why) {
    throw Error(kInvalidConfig, "invalid network config: " + field, why);
}

const json* find(const json& object, const char* key) {
    auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string string_field(const json& object, const char* key, const std::string& where,
                         bool required) {
    const json* value = find(object, key);
    if (!value) {
        if (required)
            invalid(where + key, "missing");
        return "";
    }
    if (!value->is_string())
        invalid(where + key, "must be a string");
    return value->get<std::string>();
}

bool bool_field(const json& object, const char* key, bool* present) {
    const json* value = find(object, key);
    *present = value != nullptr;
    if (!value)
        return false;
    if (!value->is_boolean())
        invalid(key, "must be true or false");
    return value->get<bool>();
}

std::string absolute_path_field(const json& object, const char* key) {
    auto path = string_field(object, key, "", false);
    if (!path.empty() && path[0] != '/')
        invalid(key, "\"" + path + "\" must be an absolute path");
    return path;
}

std::vector<IpAddress> ip_list(const json& value, const std::string& field) {
    if (!value.is_array())
        invalid(field, "must be a list of IP addresses");
    std::vector<IpAddress> ips;
    for (const auto& item : value) {
        if (!item.is_string())
            invalid(field, "must be a list of IP addresses");
        auto text = item.get<std::string>();
        auto ip = parse_address_or_prefix(text);
        if (!ip)
            invalid(field, "\"" + text + "\" is not an IP address");
        ips.push_back(*ip);
    }
    return ips;
}

MacAddress mac_field(const json& value, const std::string& field) {
    if (!value.is_string())
        invalid(field, "must be a MAC address string");
    auto mac = MacAddress::parse(value.get<std::string>());
    if (!mac)
        invalid(field, "\"" + value.get<std::string>() + "\" is not a MAC address");
    return *mac;
}

void parse_version(NetConf& conf, const json& root) {
    conf.cni_version = string_field(root, "cniVersion", "", true);
    if (!is_supported_version(conf.cni_version)) {
        throw Error(kIncompatibleVersion, "incompatible CNI version",
                    "cniVersion " + conf.cni_version + " is not one of 0.3.0, 0.3.1, 0.4.0, " +
                        "1.0.0, 1.1.0");
    }
}

void parse_identity(NetConf& conf, const json& root) {
    conf.name = string_field(root, "name", "", true);
    if (!is_valid_identifier(conf.name)) {
        invalid("name", "\"" + conf.name + "\" must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$");
    }
    conf.type = string_field(root, "type", "", true);
}

void parse_mtu(NetConf& conf, const json& root) {
    const json* mtu = find(root, "mtu");
    if (!mtu)
        return;
    if (!mtu->is_number_integer())
        invalid("mtu", "must be an integer");
    auto value = mtu->get<long long>();
    if (value < 68 || value > 65535) {
        invalid("mtu", std::to_string(value) + " is outside 68..65535");
    }
    conf.mtu = static_cast<int>(value);
}

void parse_ipam(NetConf& conf, const json& root) {
    const json* ipam = find(root, "ipam");
    if (!ipam) {
        if (conf.subnet_file.empty())
            invalid("ipam", "missing (and no subnetFile)");
        return;
    }
    if (!ipam->is_object())
        invalid("ipam", "must be an object");
    conf.ipam = *ipam;
    conf.ipam_type = string_field(*ipam, "type", "ipam.", conf.subnet_file.empty());
}

void parse_attach(NetConf& conf, const json& root) {
    auto attach = string_field(root, "attach", "", false);
    if (attach.empty() || attach == "auto") {
        conf.attach = AttachMode::Auto;
    } else if (attach == "tcx") {
        conf.attach = AttachMode::Tcx;
    } else if (attach == "tc") {
        conf.attach = AttachMode::Tc;
    } else if (attach == "none") {
        conf.attach = AttachMode::None;
    } else {
        invalid("attach", "\"" + attach + "\" must be auto, tcx, tc or none");
    }
    auto root_path = absolute_path_field(root, "bpffsRoot");
    if (!root_path.empty())
        conf.bpffs_root = root_path;
}

// runtimeConfig.bandwidth (the "bandwidth" capability): only whether egress is shaped
// matters here, since a chained bandwidth plugin then adds an ingress qdisc to the host veth.
double egress_rate(const json& bandwidth) {
    if (!bandwidth.is_object())
        invalid("runtimeConfig.bandwidth", "must be an object");
    const json* rate = find(bandwidth, "egressRate");
    if (!rate)
        return 0;
    if (!rate->is_number() || rate->get<double>() < 0)
        invalid("runtimeConfig.bandwidth.egressRate", "must be a non-negative number");
    return rate->get<double>();
}

void parse_runtime_config(NetConf& conf, const json& root) {
    const json* runtime = find(root, "runtimeConfig");
    if (runtime) {
        if (!runtime->is_object())
            invalid("runtimeConfig", "must be an object");
        if (const json* ips = find(*runtime, "ips")) {
            auto list = ip_list(*ips, "runtimeConfig.ips");
            conf.requested_ips.insert(conf.requested_ips.end(), list.begin(), list.end());
        }
        if (const json* mac = find(*runtime, "mac"))
            conf.mac = mac_field(*mac, "runtimeConfig.mac");
        if (const json* bandwidth = find(*runtime, "bandwidth"))
            conf.egress_shaping = egress_rate(*bandwidth) > 0;
    }
    const json* args = find(root, "args");
    if (!args)
        return;
    if (!args->is_object())
        invalid("args", "must be an object");
    const json* cni = find(*args, "cni");
    if (!cni)
        return;
    if (!cni->is_object())
        invalid("args.cni", "must be an object");
    if (const json* ips = find(*cni, "ips")) {
        auto list = ip_list(*ips, "args.cni.ips");
        conf.requested_ips.insert(conf.requested_ips.end(), list.begin(), list.end());
    }
    if (const json* mac = find(*cni, "mac"); mac && !conf.mac)
        conf.mac = mac_field(*mac, "args.cni.mac");
}

void parse_valid_attachments(NetConf& conf, const json& root) {
    const json* list = find(root, "cni.dev/valid-attachments");
    if (!list)
        return;
    const std::string field = "cni.dev/valid-attachments";
    if (!list->is_array())
        invalid(field, "must be a list");
    std::vector<AttachmentId> out;
    for (const auto& item : *list) {
        if (!item.is_object())
            invalid(field, "entries must be objects");
        out.push_back({string_field(item, "containerID", field + "[].", true),
                       string_field(item, "ifname", field + "[].", true)});
    }
    conf.valid_attachments = std::move(out);
}

}  // namespace

NetConf parse_netconf(const std::string& text) {
    json root;
    try {
        root = parse_json(text);
    } catch (const json::exception& e) {
        throw Error(kDecodeFailure, "failed to decode the network config", e.what());
    }
    if (!root.is_object()) {
        throw Error(kDecodeFailure, "failed to decode the network config", "not a JSON object");
    }
    NetConf conf;
    conf.raw = root;
    parse_version(conf, root);
    parse_identity(conf, root);
    conf.subnet_file = absolute_path_field(root, "subnetFile");
    parse_mtu(conf, root);
    parse_ipam(conf, root);
    if (const json* dns = find(root, "dns"))
        conf.dns = parse_dns_with_code(*dns, "dns", kInvalidConfig);
    conf.ip_masq = bool_field(root, "ipMasq", &conf.ip_masq_set);
    parse_attach(conf, root);
    conf.log_file = absolute_path_field(root, "logFile");
    conf.data_dir = absolute_path_field(root, "dataDir");
    parse_runtime_config(conf, root);
    if (const json* prev = find(root, "prevResult")) {
        if (!prev->is_object())
            invalid("prevResult", "must be an object");
        conf.prev_result = *prev;
    }
    parse_valid_attachments(conf, root);
    return conf;
}

std::string error_version(const std::string& text) {
    try {
        auto root = parse_json(text);
        if (root.is_object()) {
            auto it = root.find("cniVersion");
            if (it != root.end() && it->is_string() &&
                is_supported_version(it->get<std::string>())) {
                return it->get<std::string>();
            }
        }
    } catch (const json::exception&) {
    }
    return std::string(kCurrentVersion);
}

}  // namespace shuttle::cni
