#pragma once

#include <optional>

// shuttlectl's commands about the node agent's side, parsed here so that main.cpp only
// dispatches: `uninstall` and `nodes`. Returns nullopt when argv names another command.
std::optional<int> run_agent_command(int argc, char** argv);
