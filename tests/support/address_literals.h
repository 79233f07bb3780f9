#pragma once
// Addresses written as text in tests: ip("10.0.0.1"), prefix("10.0.0.0/24"), mac("02:..").
// One definition for every test file: the unity build compiles several files as one unit.

#include <string>

#include "common/ip.h"

inline shuttle::IpAddress ip(const std::string& text) {
    return *shuttle::IpAddress::parse(text);
}

inline shuttle::IpPrefix prefix(const std::string& text) {
    return *shuttle::IpPrefix::parse(text);
}

inline shuttle::MacAddress mac(const std::string& text) {
    return *shuttle::MacAddress::parse(text);
}
