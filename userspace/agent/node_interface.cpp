#include "agent/node_interface.h"

#include <ifaddrs.h>
#include <net/if.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "common/system_error.h"

namespace shuttle::agent {
namespace {

struct IfaddrsDeleter {
    void operator()(ifaddrs* list) const { freeifaddrs(list); }
};

std::unique_ptr<ifaddrs, IfaddrsDeleter> list_addresses() {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) {
        throw_errno("getifaddrs");
    }
    return std::unique_ptr<ifaddrs, IfaddrsDeleter>(list);
}

// The entry's address (AF_INET or AF_INET6).
IpAddress address_of(const ifaddrs* entry) {
    IpAddress ip;
    ip.family = entry->ifa_addr->sa_family;
    if (ip.family == AF_INET) {
        std::memcpy(ip.bytes.data(),
                    &reinterpret_cast<const sockaddr_in*>(entry->ifa_addr)->sin_addr, 4);
    } else {
        std::memcpy(ip.bytes.data(),
                    &reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr)->sin6_addr, 16);
    }
    return ip;
}

bool is_global_ipv6(const IpAddress& ip) {
    bool link_local = ip.bytes[0] == 0xfe && (ip.bytes[1] & 0xc0) == 0x80;
    bool loopback = ip == *IpAddress::parse("::1");
    return !link_local && !loopback;
}

std::optional<IpAddress> first_global_ipv6(const ifaddrs* list, const std::string& name) {
    for (auto* entry = list; entry; entry = entry->ifa_next) {
        if (entry->ifa_addr && entry->ifa_addr->sa_family == AF_INET6 && name == entry->ifa_name &&
            is_global_ipv6(address_of(entry))) {
            return address_of(entry);
        }
    }
    return std::nullopt;
}

int read_mtu(const std::string& name) {
    std::ifstream in("/sys/class/net/" + name + "/mtu");
    int mtu = 0;
    if (!(in >> mtu) || mtu <= 0) {
        throw std::runtime_error("cannot read the MTU of " + name);
    }
    return mtu;
}

}  // namespace

NodeInterface interface_by_name(const std::string& name) {
    auto list = list_addresses();
    for (auto* entry = list.get(); entry; entry = entry->ifa_next) {
        if (entry->ifa_addr && entry->ifa_addr->sa_family == AF_INET && name == entry->ifa_name) {
            return {name, address_of(entry), read_mtu(name), first_global_ipv6(list.get(), name)};
        }
    }
    throw std::runtime_error("interface " + name + " does not exist or has no IPv4 address");
}

std::optional<NodeInterface> interface_with_address(const IpAddress& address) {
    auto list = list_addresses();
    for (auto* entry = list.get(); entry; entry = entry->ifa_next) {
        if (entry->ifa_addr && entry->ifa_addr->sa_family == AF_INET &&
            address_of(entry) == address) {
            return NodeInterface{entry->ifa_name, address, read_mtu(entry->ifa_name),
                                 first_global_ipv6(list.get(), entry->ifa_name)};
        }
    }
    return std::nullopt;
}

NodeInterface default_route_interface() {
    std::ifstream in("/proc/net/route");
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string name, destination, gateway, flags, refcnt, use, metric, mask;
        fields >> name >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask;
        if (destination == "00000000" && mask == "00000000") {
            return interface_by_name(name);
        }
    }
    throw std::runtime_error("no IPv4 default route: set --iface or --public-ip");
}

}  // namespace shuttle::agent
