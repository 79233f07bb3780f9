#include "datapath/abi_values.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace shuttle::datapath {

uint32_t ipv4_of(const IpAddress& ip) {
    if (!ip.is_v4()) {
        throw std::invalid_argument("the datapath handles IPv4 only, got " + ip.str());
    }
    uint32_t net;
    std::memcpy(&net, ip.bytes.data(), 4);
    return net;
}

IpAddress ip_of(uint32_t net) {
    IpAddress ip;
    ip.family = AF_INET;
    std::memcpy(ip.bytes.data(), &net, 4);
    return ip;
}

void copy_ipv6(uint8_t* dst, const IpAddress& ip) {
    if (ip.family != AF_INET6) {
        throw std::invalid_argument("not an IPv6 address: " + ip.str());
    }
    std::copy_n(ip.bytes.begin(), 16, dst);
}

IpAddress ipv6_of(const uint8_t* bytes) {
    IpAddress ip;
    ip.family = AF_INET6;
    std::copy_n(bytes, 16, ip.bytes.begin());
    return ip;
}

MacAddress mac_of(const uint8_t* bytes) {
    MacAddress mac;
    std::copy_n(bytes, 6, mac.bytes.begin());
    return mac;
}

void copy_mac(uint8_t* dst, const MacAddress& mac) {
    std::copy_n(mac.bytes.begin(), 6, dst);
}

std::string ip_text(uint32_t net) {
    return ip_of(net).str();
}

std::string mac_text(const uint8_t* bytes) {
    return mac_of(bytes).str();
}

shuttle_ip6 ip6_key(const IpAddress& ip) {
    shuttle_ip6 key{};
    copy_ipv6(key.addr, ip);
    return key;
}

uint32_t attach_mode_value(AttachMode mode) {
    return mode == AttachMode::Tcx ? SHUTTLE_ATTACH_TCX : SHUTTLE_ATTACH_TC;
}

AttachMode attach_mode_of_value(uint32_t value) {
    return value == SHUTTLE_ATTACH_TCX  ? AttachMode::Tcx
           : value == SHUTTLE_ATTACH_TC ? AttachMode::Tc
                                        : AttachMode::Auto;
}

}  // namespace shuttle::datapath
