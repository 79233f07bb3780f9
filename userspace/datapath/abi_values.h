#pragma once

// Between the types of datapath.h and the fields of bpf/shuttle_abi.h: IPv4 addresses in
// network order, MACs as six bytes. Internal to datapath/.

#include <cstdint>
#include <string>

#include "common/ip.h"
#include "datapath/datapath.h"
#include "shuttle_abi.h"

namespace shuttle::datapath {

// Throws std::invalid_argument for an IPv6 address: the datapath handles IPv4 only.
uint32_t ipv4_of(const IpAddress& ip);
IpAddress ip_of(uint32_t net);
MacAddress mac_of(const uint8_t* bytes);
// IPv6 addresses as 16 bytes; copy_ipv6 throws std::invalid_argument for IPv4.
void copy_ipv6(uint8_t* dst, const IpAddress& ip);
IpAddress ipv6_of(const uint8_t* bytes);
void copy_mac(uint8_t* dst, const MacAddress& mac);
// "10.244.1.2", "02:00:00:00:01:02": for tables and events.
std::string ip_text(uint32_t net);
std::string mac_text(const uint8_t* bytes);
// The endpoints6 / endpoint_meta6 key of an IPv6 address.
shuttle_ip6 ip6_key(const IpAddress& ip);
// An endpoint entry's attach_mode (SHUTTLE_ATTACH_*) and back; Auto for NONE.
uint32_t attach_mode_value(AttachMode mode);
AttachMode attach_mode_of_value(uint32_t value);

}  // namespace shuttle::datapath
