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

// Renders the JSON of the command above as an aligned text table.
std::string endpoints_table(const nlohmann::json& endpoints);
std::string stats_table(const nlohmann::json& stats);
std::string config_table(const nlohmann::json& config);
std::string status_table(const nlohmann::json& status);
std::string routes_table(const nlohmann::json& routes);

}  // namespace shuttle::datapath
