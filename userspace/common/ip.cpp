#include "common/ip.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace shuttle {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    std::string s(text);
    IpAddress ip;
    if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) {
        ip.family = AF_INET;
        return ip;
    }
    if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
        ip.family = AF_INET6;
        return ip;
    }
    return std::nullopt;
}

IpAddress IpAddress::v4(uint32_t host_order) {
    IpAddress ip;
    ip.family = AF_INET;
    uint32_t net = htonl(host_order);
    std::memcpy(ip.bytes.data(), &net, 4);
    return ip;
}

uint32_t IpAddress::v4_host_order() const {
    uint32_t net;
    std::memcpy(&net, bytes.data(), 4);
    return ntohl(net);
}

unsigned __int128 IpAddress::to_integer() const {
    unsigned __int128 value = 0;
    for (size_t i = 0; i < size(); ++i)
        value = (value << 8) | bytes[i];
    return value;
}

IpAddress IpAddress::from_integer(int family, unsigned __int128 value) {
    IpAddress ip;
    ip.family = family;
    for (size_t i = ip.size(); i-- > 0;) {
        ip.bytes[i] = static_cast<uint8_t>(value & 0xff);
        value >>= 8;
    }
    return ip;
}

IpAddress IpAddress::any(int family) {
    IpAddress ip;
    ip.family = family;
    return ip;
}

std::string IpAddress::str() const {
    if (family == 0) {
        return "";
    }
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(family, bytes.data(), buf, sizeof buf);
    return buf;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos) {
        return std::nullopt;
    }
    auto address = IpAddress::parse(text.substr(0, slash));
    if (!address) {
        return std::nullopt;
    }
    auto len_text = text.substr(slash + 1);
    int length = -1;
    auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
    if (ec != std::errc() || end != len_text.data() + len_text.size() || len_text.empty()) {
        return std::nullopt;
    }
    IpPrefix prefix{*address, length};
    if (length < 0 || length > prefix.max_length()) {
        return std::nullopt;
    }
    return prefix;
}

std::optional<IpAddress> parse_address_or_prefix(std::string_view text) {
    if (text.find('/') == std::string_view::npos) {
        return IpAddress::parse(text);
    }
    auto prefix = IpPrefix::parse(text);
    if (!prefix) {
        return std::nullopt;
    }
    return prefix->address;
}

std::string IpPrefix::str() const {
    return address.str() + "/" + std::to_string(length);
}

IpPrefix IpPrefix::network() const {
    IpPrefix out = *this;
    for (size_t i = 0; i < address.size(); ++i) {
        int bits_here = std::max(0, std::min(8, length - static_cast<int>(i) * 8));
        uint8_t mask = bits_here == 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits_here));
        out.address.bytes[i] &= mask;
    }
    return out;
}

bool IpPrefix::contains(const IpAddress& ip) const {
    if (ip.family != address.family) {
        return false;
    }
    return IpPrefix{ip, length}.network() == network();
}

bool IpPrefix::contains(const IpPrefix& other) const {
    return other.length >= length && contains(other.address);
}

IpAddress IpPrefix::last() const {
    int host_bits = max_length() - length;
    unsigned __int128 mask = host_bits >= 128
                                 ? ~static_cast<unsigned __int128>(0)
                                 : (static_cast<unsigned __int128>(1) << host_bits) - 1;
    return IpAddress::from_integer(address.family, network().address.to_integer() | mask);
}

IpPrefix IpPrefix::default_route(int family) {
    return IpPrefix{IpAddress::any(family), 0};
}

IpPrefix IpPrefix::host(const IpAddress& ip) {
    return IpPrefix{ip, ip.is_v4() ? 32 : 128};
}

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
    MacAddress mac;
    std::string s(text);
    unsigned v[6];
    char trailing;
    if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
                    &v[5], &trailing) != 6 ||
        s.size() != 17) {
        return std::nullopt;
    }
    for (int i = 0; i < 6; ++i) {
        mac.bytes[i] = static_cast<uint8_t>(v[i]);
    }
    return mac;
}

std::string MacAddress::str() const {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                  bytes[3], bytes[4], bytes[5]);
    return buf;
}

}  // namespace shuttle
