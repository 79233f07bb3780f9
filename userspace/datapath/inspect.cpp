#include "datapath/inspect.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "common/system_error.h"
#include "datapath/map_access.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {
namespace {

using nlohmann::json;

std::string ip_text(uint32_t net) {
    IpAddress ip;
    ip.family = AF_INET;
    std::memcpy(ip.bytes.data(), &net, 4);
    return ip.str();
}

std::string mac_text(const uint8_t* bytes) {
    MacAddress mac;
    std::copy_n(bytes, 6, mac.bytes.begin());
    return mac.str();
}

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
    return value.dump();
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

json endpoints_json(const Node& node) {
    json out = json::array();
    EndpointTable table(node.map_fd("endpoints"), node.map_fd("node_config"));
    for (uint32_t ip : keys<uint32_t>(node.map_fd("endpoint_meta"))) {
        auto ep = table.find(ip);
        auto meta = lookup<shuttle_endpoint_meta>(node.map_fd("endpoint_meta"), ip);
        if (!ep || !meta) {
            continue;
        }
        json row = {{"ip", ip_text(ip)},
                    {"ifindex", ep->ifindex},
                    {"pod_mac", mac_text(ep->pod_mac)},
                    {"host_mac", mac_text(ep->host_mac)},
                    {"flags", ep->flags},
                    {"host_ifname", field_string(meta->host_ifname)},
                    {"ifname", field_string(meta->ifname)},
                    {"container_id", field_string(meta->container_id)},
                    {"pod_namespace", field_string(meta->pod_namespace)},
                    {"pod_name", field_string(meta->pod_name)}};
        row["pod"] = field_string(meta->pod_namespace) + "/" + field_string(meta->pod_name);
        out.push_back(std::move(row));
    }
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
    return {{"layout_version", SHUTTLE_LAYOUT_VERSION},
            {"node_subnet", prefix(cfg.node_subnet)},
            {"gateway", address(cfg.gateway)},
            {"cluster_network", prefix(cfg.cluster_network)},
            {"vxlan_ifindex", cfg.vxlan_ifindex},
            {"vni", cfg.vni},
            {"vtep_mac", cfg.vtep_mac.str()},
            {"underlay_ip", address(cfg.underlay_ip)}};
}

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
    json overlay;  // null: no VXLAN device in node_config
    if (auto a = node.overlay_attachment()) {
        overlay = {{"ifname", a->ifname.empty() ? json() : json(a->ifname)},
                   {"ifindex", a->ifindex},
                   {"mode", to_string(a->mode)},
                   {"attached", a->attached},
                   {"detail", a->detail}};
    }
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    bpf_obj_get_info_by_fd(node.program_fd(), &info, &len);
    return {{"pin_dir", node.pin_dir()},
            {"overlay", overlay},
            {"layout_version", SHUTTLE_LAYOUT_VERSION},
            {"program_id", info.id},
            {"pinned_build", hex64(node.pinned_build_hash())},
            {"this_build", hex64(Node::build_hash())},
            {"current", node.pinned_build_hash() == Node::build_hash()},
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

namespace {

struct MonitorState {
    bool json = false;
    std::FILE* out = nullptr;
    int printed = 0;
};

json event_json(const shuttle_event& e) {
    uint32_t verdict = e.stat_key / SHUTTLE_REASONS_PER_VERDICT;
    uint32_t reason = e.stat_key % SHUTTLE_REASONS_PER_VERDICT;
    char proto[8];
    std::snprintf(proto, sizeof proto, "0x%04x", ntohs(e.eth_proto));
    json row = {{"timestamp_ns", e.timestamp_ns},
                {"verdict", verdict_name(verdict)},
                {"reason", reason_name(verdict, reason)},
                {"ifindex", e.ifindex},
                {"len", e.len},
                {"src_mac", mac_text(e.smac)},
                {"dst_mac", mac_text(e.dmac)},
                {"eth_proto", proto}};
    if (e.saddr || e.daddr) {
        row["src"] = ip_text(e.saddr);
        row["dst"] = ip_text(e.daddr);
        row["ip_proto"] = e.ip_proto;
        row["ttl"] = e.ttl;
    }
    return row;
}

int on_event(void* ctx, void* data, size_t size) {
    auto* state = static_cast<MonitorState*>(ctx);
    if (size < sizeof(shuttle_event)) {
        return 0;
    }
    shuttle_event event;
    std::memcpy(&event, data, sizeof event);
    json row = event_json(event);
    if (state->json) {
        std::fprintf(state->out, "%s\n", row.dump().c_str());
    } else {
        std::fprintf(state->out, "%s %s ifindex %u %s > %s len %u\n",
                     row["verdict"].get<std::string>().c_str(),
                     row["reason"].get<std::string>().c_str(), event.ifindex,
                     row.value("src", row["src_mac"].get<std::string>()).c_str(),
                     row.value("dst", row["dst_mac"].get<std::string>()).c_str(), event.len);
    }
    std::fflush(state->out);
    ++state->printed;
    return 0;
}

}  // namespace

int monitor_events(const Node& node, int count, int timeout_ms, bool json, std::FILE* out) {
    MonitorState state{json, out, 0};
    std::unique_ptr<ring_buffer, void (*)(ring_buffer*)> rb(
        ring_buffer__new(node.map_fd("events"), on_event, &state, nullptr), ring_buffer__free);
    if (!rb) {
        throw_errno("open the events ring buffer");
    }
    while (count == 0 || state.printed < count) {
        int before = state.printed;
        int n = ring_buffer__poll(rb.get(), timeout_ms < 0 ? 1000 : timeout_ms);
        if (n < 0 && n != -EINTR) {
            throw system_error(-n, "poll the events ring buffer");
        }
        if (timeout_ms >= 0 && state.printed == before) {
            break;
        }
    }
    return state.printed;
}

std::string endpoints_table(const json& endpoints) {
    return table({{"IP", "ip"},
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

std::string status_table(const json& status) {
    std::string overlay;  // null: key_values prints "overlay  -"
    if (const json& o = status["overlay"]; o.is_object()) {
        overlay = "overlay  " + text_of(o["ifname"]) + " (ifindex " + text_of(o["ifindex"]) + ", " +
                  text_of(o["mode"]) + "): " +
                  (o["attached"].get<bool>() ? std::string("attached")
                                             : "not attached: " + text_of(o["detail"])) +
                  "\n";
    }
    return key_values(status) + overlay + "\n" +
           table({{"HOST IF", "ifname"},
                  {"IFINDEX", "ifindex"},
                  {"POD IP", "pod_ip"},
                  {"MODE", "mode"},
                  {"ATTACHED", "attached"},
                  {"DETAIL", "detail"}},
                 status["attachments"]);
}

}  // namespace shuttle::datapath
