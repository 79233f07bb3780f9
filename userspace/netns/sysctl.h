#pragma once

#include <string>

namespace shuttle::netns {

// Sysctls under /proc/sys. /proc/sys/net shows the network namespace of the thread that
// opens the file, so inside a netns::Guard these read and write that namespace's values.
//
// `key` is dotted ("net.ipv4.ip_forward") or a path below /proc/sys ("net/ipv4/ip_forward").
// Dotted keys cannot name interfaces whose names contain dots: use the interface functions.
void write_sysctl(const std::string& key, const std::string& value);
// The value without the trailing newline.
std::string read_sysctl(const std::string& key);

// Per-interface settings: family "ipv4" or "ipv6", e.g.
// write_interface_sysctl("ipv4", "flannel.1", "proxy_arp", "1") writes
// /proc/sys/net/ipv4/conf/flannel.1/proxy_arp.
void write_interface_sysctl(const std::string& family, const std::string& interface,
                            const std::string& setting, const std::string& value);
std::string read_interface_sysctl(const std::string& family, const std::string& interface,
                                  const std::string& setting);

// The /proc/sys path for a key (exposed for tests).
std::string sysctl_path(const std::string& key);
std::string interface_sysctl_path(const std::string& family, const std::string& interface,
                                  const std::string& setting);

}  // namespace shuttle::netns
