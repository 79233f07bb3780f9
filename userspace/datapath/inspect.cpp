// What shuttlectl shows about a node: JSON for scripts and aligned tables for humans.
#include "datapath/inspect.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "common/json_text.h"
#include "common/system_error.h"
#include "datapath/abi_values.h"
#include "datapath/map_access.h"
#include "datapath/monitor.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {
namespace {

using nlohmann::json;

std::string hex64(uint64_t value) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
    return buf;
}

std::string text_of(const json& value) {
    if (value.is_string()) {
        return value.get<std::string>();
    }
    if (value.is_null()) {
        return "-";
    }
    return dump_json(value);
}

// Columns: header text and the JSON key of each row.
using Columns = std::vector<std::pair<std::string, std::string>>;

std::string table(const Columns& columns, const json& rows) {
    std::vector<std::vector<std::string>> cells;
    std::vector<size_t> width;
    for (const auto& [header, key] : columns) {
        width.push_back(header.size());
    }
    for (const json& row : rows) {
        std::vector<std::string> line;
        for (size_t c = 0; c < columns.size(); ++c) {
            line.push_back(row.contains(columns[c].second) ? text_of(row[columns[c].second]) : "-");
            width[c] = std::max(width[c], line.back().size());
        }
        cells.push_back(std::move(line));
    }
    std::string out;
    auto emit = [&](const std::vector<std::string>& line) {
        for (size_t c = 0; c < line.size(); ++c) {
            out += line[c];
            if (c + 1 < line.size()) {
                out += std::string(width[c] - line[c].size() + 2, ' ');
            }
        }
        out += '\n';
    };
    std::vector<std::string> headers;
    for (const auto& [header, key] : columns) {
        headers.push_back(header);
    }
    emit(headers);
    for (const auto& line : cells) {
        emit(line);
    }
    return out;
}

std::string key_values(const json& object) {
    size_t width = 0;
    for (const auto& [key, value] : object.items()) {
        width = std::max(width, key.size());
    }
    std::string out;
    for (const auto& [key, value] : object.items()) {
        if (!value.is_structured()) {
            out += key + std::string(width - key.size() + 2, ' ') + text_of(value) + '\n';
        }
    }
    return out;
}

}  // namespace

namespace {

// Each IPv6 endpoint's address by host veth ifindex (a pod's IPv6 entry shares its veth).
std::map<uint32_t, std::string> ipv6_by_ifindex(const Node& node) {
    std::map<uint32_t, std::string> out;
    int slots_fd = -1;
    try {
        slots_fd = node.map_fd("endpoints6");
    } catch (const std::invalid_argument&) {
        return out;  // pins of a build before IPv6
    }
    EndpointTable6 table(slots_fd, node.map_fd("endpoints6_hash"), node.map_fd("node_config6"));
    for (const shuttle_endpoint6& ep : table.all()) {
        out[ep.ifindex] = ipv6_of(ep.pod_ip).str();
    }
    return out;
}

json endpoint_row(const std::string& ip, const std::string& ip6, const shuttle_endpoint_meta& meta,
                  uint32_t ifindex, const uint8_t* pod_mac, const uint8_t* host_mac,
                  uint32_t flags) {
    json row = {{"ip", ip.empty() ? json(nullptr) : json(ip)},
                {"ip6", ip6.empty() ? json(nullptr) : json(ip6)},
                {"ifindex", ifindex},
                {"pod_mac", mac_text(pod_mac)},
                {"host_mac", mac_text(host_mac)},
                {"flags", flags},
                {"host_ifname", field_string(meta.host_ifname)},
                {"ifname", field_string(meta.ifname)},
                {"container_id", field_string(meta.container_id)},
                {"pod_namespace", field_string(meta.pod_namespace)},
                {"pod_name", field_string(meta.pod_name)}};
    row["pod"] = field_string(meta.pod_namespace) + "/" + field_string(meta.pod_name);
    return row;
}

// The IPv6-only pods (endpoint_meta6): rows with "ip" null.
void add_ipv6_only_endpoints(const Node& node, json& out) {
    int meta_fd = -1;
    try {
        meta_fd = node.map_fd("endpoint_meta6");
    } catch (const std::invalid_argument&) {
        return;  // pins of a build before IPv6-only pods
    }
    EndpointTable6 table(node.map_fd("endpoints6"), node.map_fd("endpoints6_hash"),
                         node.map_fd("node_config6"));
    for (const shuttle_ip6& ip : keys<shuttle_ip6>(meta_fd)) {
        auto ep = table.find(ip);
        auto meta = lookup<shuttle_endpoint_meta>(meta_fd, ip);
        if (ep && meta) {
            out.push_back(endpoint_row("", ipv6_of(ip.addr).str(), *meta, ep->ifindex, ep->pod_mac,
                                       ep->host_mac, ep->flags));
        }
    }
}

}  // namespace

json endpoints_json(const Node& node) {
    json out = json::array();
    EndpointTable table(node.map_fd("endpoints"), node.map_fd("node_config"));
    auto ipv6 = ipv6_by_ifindex(node);
    for (uint32_t ip : keys<uint32_t>(node.map_fd("endpoint_meta"))) {
        auto ep = table.find(ip);
        auto meta = lookup<shuttle_endpoint_meta>(node.map_fd("endpoint_meta"), ip);
        if (!ep || !meta) {
            continue;
        }
        out.push_back(endpoint_row(ip_text(ip), ipv6.count(ep->ifindex) ? ipv6[ep->ifindex] : "",
                                   *meta, ep->ifindex, ep->pod_mac, ep->host_mac, ep->flags));
    }
    add_ipv6_only_endpoints(node, out);
    return out;
}

json stats_json(const Node& node) {
    json out = json::array();
    for (const StatCounter& c : read_stats(node.map_fd("stats"))) {
        if (c.packets == 0 && c.bytes == 0) {
            continue;
        }
        out.push_back({{"verdict", verdict_name(c.verdict)},
                       {"reason", reason_name(c.verdict, c.reason)},
                       {"packets", c.packets},
                       {"bytes", c.bytes}});
    }
    return out;
}

json config_json(const Node& node) {
    NodeConfig cfg = node.config();
    auto prefix = [](const IpPrefix& p) { return p.address.empty() ? json() : json(p.str()); };
    auto address = [](const IpAddress& a) { return a.empty() ? json() : json(a.str()); };
    NodeConfig6 cfg6;
    try {
        cfg6 = node.config6();
    } catch (const std::invalid_argument&) {
        // pins of a build before IPv6: no node_config6
    }
    return {{"layout_version", node.build().layout},
            {"node_subnet6", prefix(cfg6.node_subnet)},
            {"gateway6", address(cfg6.gateway)},
            {"cluster_network6", prefix(cfg6.cluster_network)},
            {"node_subnet", prefix(cfg.node_subnet)},
            {"gateway", address(cfg.gateway)},
            {"cluster_network", prefix(cfg.cluster_network)},
            {"vxlan_ifindex", cfg.vxlan_ifindex},
            {"vni", cfg.vni},
            {"vtep_mac", cfg.vtep_mac.str()},
            {"underlay_ip", address(cfg.underlay_ip)}};
}

namespace {

uint32_t max_entries(int map_fd) {
    bpf_map_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(map_fd, &info, &len) != 0) {
        throw_errno("map info");
    }
    return info.max_entries;
}

// A hash map's entries / max entries; null for pins of a build before the map.
template <typename Key>
json hash_fill_json(const Node& node, const char* name) {
    int fd = -1;
    try {
        fd = node.map_fd(name);
    } catch (const std::invalid_argument&) {
        return json();
    }
    return {{"used", static_cast<uint32_t>(keys<Key>(fd).size())}, {"capacity", max_entries(fd)}};
}

// Endpoints: the slots of the node subnet (its size is the capacity, at most the map's) that
// hold a pod. Routes, routes6, peers6: the entries of the hash.
json map_fill_json(const Node& node) {
    int endpoints_fd = node.map_fd("endpoints");
    uint32_t endpoint_slots = 0;
    uint32_t endpoints_used = 0;
    auto cfg = lookup<shuttle_config>(node.map_fd("node_config"), uint32_t{0});
    if (cfg && cfg->node_subnet_len >= 16 && cfg->node_subnet_len <= 32) {
        endpoint_slots = std::min(1u << (32 - cfg->node_subnet_len), max_entries(endpoints_fd));
    }
    for (uint32_t slot = 0; slot < endpoint_slots; ++slot) {
        auto ep = lookup<shuttle_endpoint>(endpoints_fd, slot);
        endpoints_used += ep && ep->ifindex != 0;
    }
    int routes_fd = node.map_fd("routes");
    auto routes_used = static_cast<uint32_t>(keys<shuttle_route_key>(routes_fd).size());
    return {{"endpoints", {{"used", endpoints_used}, {"capacity", endpoint_slots}}},
            {"routes", {{"used", routes_used}, {"capacity", max_entries(routes_fd)}}},
            {"routes6", hash_fill_json<shuttle_route6_key>(node, "routes6")},
            {"peers6", hash_fill_json<shuttle_ip6>(node, "peers6")}};
}

std::string fill_text(const json& fill) {
    if (!fill.is_object()) {
        return "-";  // pins of a build before the map
    }
    std::string text = text_of(fill["used"]) + "/" + text_of(fill["capacity"]);
    if (auto capacity = fill["capacity"].get<uint32_t>(); capacity > 0) {
        char percent[16];
        std::snprintf(percent, sizeof percent, " (%.1f%%)",
                      100.0 * fill["used"].get<uint32_t>() / capacity);
        text += percent;
    }
    return text;
}

// The VXLAN device's or the underlay's programs; null when node_config names no device.
json device_attachment_json(const std::optional<Attachment>& a) {
    if (!a) {
        return json();
    }
    return {{"ifname", a->ifname.empty() ? json() : json(a->ifname)},
            {"ifindex", a->ifindex},
            {"mode", to_string(a->mode)},
            {"attached", a->attached},
            {"detail", a->detail}};
}

// "ifname (ifindex N, mode[, program]): attached" or "...: not attached: why".
std::string device_attachment_text(const json& a, const std::string& program) {
    return text_of(a["ifname"]) + " (ifindex " + text_of(a["ifindex"]) + ", " + text_of(a["mode"]) +
           (program.empty() ? "" : ", " + program) + "): " +
           (a["attached"].get<bool>() ? std::string("attached")
                                      : "not attached: " + text_of(a["detail"]));
}

}  // namespace

json status_json(const Node& node) {
    json attachments = json::array();
    for (const Attachment& a : node.attachments()) {
        attachments.push_back({{"ifname", a.ifname.empty() ? json() : json(a.ifname)},
                               {"ifindex", a.ifindex},
                               {"pod_ip", a.pod_ip.str()},
                               {"mode", to_string(a.mode)},
                               {"attached", a.attached},
                               {"detail", a.detail}});
    }
    json overlay = device_attachment_json(node.overlay_attachment());
    json underlay = device_attachment_json(node.underlay_attachment());
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    bpf_obj_get_info_by_fd(node.program_fd(), &info, &len);
    auto cfg = lookup<shuttle_config>(node.map_fd("node_config"), uint32_t{0});
    bool tracing = cfg && tracing_now(*cfg);
    PinnedBuild pinned = node.pinned_build();
    return {{"pin_dir", node.pin_dir()},
            {"maps", map_fill_json(node)},
            {"trace", tracing},  // a shuttlectl monitor --trace is running
            {"trace_sample", tracing ? json(cfg->trace_sample) : json()},
            // shuttled has written peers6: from_overlay checks IPv6 tunnel packets
            {"ipv6_peers_check", cfg && (cfg->flags & SHUTTLE_CONFIG_F_IPV6_PEERS) != 0},
            {"overlay", overlay},
            // direct: from_pod and from_underlay encapsulate and decapsulate themselves
            {"overlay_mode",
             cfg && (cfg->flags & SHUTTLE_CONFIG_F_DIRECT_OVERLAY) ? "direct" : "device"},
            {"underlay", underlay},
            {"layout_version", node.build().layout},
            {"program_id", info.id},
            {"pinned_build", hex64(pinned.hash)},
            {"pinned_serial", pinned.serial},
            {"this_build", hex64(node.build().hash)},
            {"this_serial", node.build().serial},
            {"current", pinned.hash == node.build().hash},
            {"attachments", attachments}};
}

json routes_json(const Node& node) {
    json out = json::array();
    for (const RemoteRoute& r : node.routes()) {
        out.push_back({{"subnet", r.subnet.str()},
                       {"underlay_ip", r.underlay_ip.str()},
                       {"vtep_mac", r.vtep_mac.str()},
                       {"vni", r.vni}});
    }
    return out;
}

json routes6_json(const Node& node) {
    json out = json::array();
    for (const RemoteRoute6& r : node.routes6()) {
        out.push_back({{"subnet", r.subnet.str()},
                       {"underlay_ip", r.underlay_ip6.str()},
                       {"local_ip", r.local_ip6.str()},
                       {"vtep_mac", r.vtep_mac.str()},
                       {"vni", r.vni}});
    }
    return out;
}

json peers6_json(const Node& node) {
    json out = json::array();
    for (const Peer6& p : node.peers6()) {
        out.push_back({{"underlay_ip", p.public_ip.str()}, {"subnet", p.subnet.str()}});
    }
    return out;
}

std::string endpoints_table(const json& endpoints) {
    return table({{"IP", "ip"},
                  {"IPV6", "ip6"},
                  {"POD", "pod"},
                  {"HOST IF", "host_ifname"},
                  {"IFINDEX", "ifindex"},
                  {"POD MAC", "pod_mac"},
                  {"HOST MAC", "host_mac"},
                  {"CONTAINER", "container_id"}},
                 endpoints);
}

std::string stats_table(const json& stats) {
    return table(
        {{"VERDICT", "verdict"}, {"REASON", "reason"}, {"PACKETS", "packets"}, {"BYTES", "bytes"}},
        stats);
}

std::string config_table(const json& config) {
    return key_values(config);
}

std::string routes_table(const json& routes) {
    return table({{"SUBNET", "subnet"},
                  {"NODE (UNDERLAY IP)", "underlay_ip"},
                  {"VTEP MAC", "vtep_mac"},
                  {"VNI", "vni"}},
                 routes);
}

std::string routes6_table(const json& routes6) {
    return table({{"SUBNET", "subnet"},
                  {"NODE (UNDERLAY IP)", "underlay_ip"},
                  {"LOCAL IP", "local_ip"},
                  {"VTEP MAC", "vtep_mac"},
                  {"VNI", "vni"}},
                 routes6);
}

std::string peers6_table(const json& peers6) {
    return table({{"NODE (UNDERLAY IP)", "underlay_ip"}, {"SUBNET", "subnet"}}, peers6);
}

std::string status_table(const json& status) {
    std::string overlay;  // null: key_values prints "overlay  -"
    if (const json& o = status["overlay"]; o.is_object()) {
        overlay = "overlay  " + device_attachment_text(o, "") + "\n";
    }
    if (const json& u = status["underlay"]; u.is_object()) {
        overlay += "underlay  " + device_attachment_text(u, "from_underlay") + "\n";
    }
    std::string maps;
    if (const json& m = status["maps"]; m.is_object()) {
        maps = "endpoints  " + fill_text(m["endpoints"]) + "\nroutes  " + fill_text(m["routes"]) +
               "\nroutes6  " + fill_text(m["routes6"]) + "\npeers6  " + fill_text(m["peers6"]) +
               "\n";
    }
    return key_values(status) + maps + overlay + "\n" +
           table({{"HOST IF", "ifname"},
                  {"IFINDEX", "ifindex"},
                  {"POD IP", "pod_ip"},
                  {"MODE", "mode"},
                  {"ATTACHED", "attached"},
                  {"DETAIL", "detail"}},
                 status["attachments"]);
}

}  // namespace shuttle::datapath
