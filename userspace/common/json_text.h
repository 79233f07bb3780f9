#pragma once

// JSON text in and out, compiled in one unit. nlohmann's parser and serializer are
// templates that every caller's unit would otherwise instantiate and optimise again
// (~1.5 s of compile per unit); callers use these instead of json::parse and dump().

#include <iosfwd>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace shuttle {

// Throws nlohmann::json::parse_error on malformed text, as json::parse does.
nlohmann::json parse_json(std::string_view text);
nlohmann::json parse_json(std::istream& in);
// A value that is_discarded() on malformed text, never throws.
nlohmann::json parse_json_or_discarded(std::string_view text);

// indent < 0: one line. Throws nlohmann::json::type_error on invalid UTF-8, as dump() does.
std::string dump_json(const nlohmann::json& value, int indent = -1);
std::string dump_json(const nlohmann::ordered_json& value, int indent = -1);

}  // namespace shuttle
