#pragma once

#include <netinet/in.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shuttle {

// An IPv4 or IPv6 address, stored in network byte order.
struct IpAddress {
    int family = 0;  // AF_INET or AF_INET6; 0 = unset
    std::array<uint8_t, 16> bytes{};

    static std::optional<IpAddress> parse(std::string_view text);
    static IpAddress v4(uint32_t host_order);
    std::string str() const;
    bool is_v4() const { return family == AF_INET; }
    size_t size() const { return is_v4() ? 4 : 16; }
    // IPv4 only: the address as a host-order integer.
    uint32_t v4_host_order() const;
    bool empty() const { return family == 0; }
    // The address as an unsigned number (IPv4 in the low 32 bits), for range arithmetic.
    unsigned __int128 to_integer() const;
    static IpAddress from_integer(int family, unsigned __int128 value);
    // The all-zero address of a family: 0.0.0.0 or ::.
    static IpAddress any(int family);
    auto operator<=>(const IpAddress&) const = default;
};

// An address with a prefix length: "10.244.1.5/24". The address keeps its host bits.
struct IpPrefix {
    IpAddress address;
    int length = 0;

    static std::optional<IpPrefix> parse(std::string_view text);
    std::string str() const;
    int max_length() const { return address.is_v4() ? 32 : 128; }
    // The same prefix with the host bits cleared: 10.244.1.5/24 -> 10.244.1.0/24.
    IpPrefix network() const;
    bool contains(const IpAddress& ip) const;
    bool contains(const IpPrefix& other) const;
    // The highest address of the prefix: 10.244.1.255 for 10.244.1.0/24.
    IpAddress last() const;
    // The default route of a family: 0.0.0.0/0 or ::/0.
    static IpPrefix default_route(int family);
    // The prefix holding just this address: /32 or /128.
    static IpPrefix host(const IpAddress& ip);
    auto operator<=>(const IpPrefix&) const = default;
};

// A requested address as host-local takes one: "fd00::5" or "fd00::5/64" (the length must be
// valid for the family, then it is dropped); anything else, e.g. "fd00::5/64/1", is none.
std::optional<IpAddress> parse_address_or_prefix(std::string_view text);

// A 6-byte Ethernet address.
struct MacAddress {
    std::array<uint8_t, 6> bytes{};

    static std::optional<MacAddress> parse(std::string_view text);
    std::string str() const;
    auto operator<=>(const MacAddress&) const = default;
};

}  // namespace shuttle
