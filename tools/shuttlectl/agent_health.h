#pragma once

#include <nlohmann/json.hpp>
#include <string>

// shuttled's readiness as `shuttlectl status` shows it: GET http://<addr>/readyz.
//   {"addr", "state": "ready" | "not ready" | "not running" | "unreachable", "detail"}
// "not ready": the answer was not 200 (detail: the body's first lines); "not running":
// connection refused; "unreachable": any other failure (detail says which).
nlohmann::json agent_health(const std::string& addr, int timeout_ms = 2000);

// "host:port" -> the text line of `status`.
std::string agent_health_text(const nlohmann::json& health);
