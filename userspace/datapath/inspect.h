#pragma once

// What shuttlectl shows about a node's datapath: JSON for scripts, tables for humans.

#include <nlohmann/json.hpp>
#include <string>

#include "datapath/datapath.h"

namespace shuttle::datapath {

nlohmann::json endpoints_json(const Node& node);
nlohmann::json stats_json(const Node& node);  // every non-zero counter
nlohmann::json config_json(const Node& node);
nlohmann::json status_json(const Node& node);
// The routes map: remote subnet, node underlay IP, VTEP MAC, VNI; sorted by subnet.
nlohmann::json routes_json(const Node& node);
// The routes6 map (from_pod's IPv6 device path): remote IPv6 subnet, node PublicIPv6
// (underlay_ip), this node's PublicIPv6 (local_ip), IPv6 VTEP MAC, VNI; sorted by subnet.
nlohmann::json routes6_json(const Node& node);
// The peers6 map (from_overlay's IPv6 tunnel check): node PublicIPv6 (underlay_ip) and the
// IPv6 subnet it may send from; sorted by address.
nlohmann::json peers6_json(const Node& node);

// Renders the JSON of the command above as an aligned text table.
std::string endpoints_table(const nlohmann::json& endpoints);
std::string stats_table(const nlohmann::json& stats);
std::string config_table(const nlohmann::json& config);
std::string status_table(const nlohmann::json& status);
std::string routes_table(const nlohmann::json& routes);
std::string routes6_table(const nlohmann::json& routes6);
std::string peers6_table(const nlohmann::json& peers6);

}  // namespace shuttle::datapath
