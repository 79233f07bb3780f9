#include "plugin/wiring.h"

#include <linux/rtnetlink.h>

#include <algorithm>

#include "cni/error.h"
#include "netlink/address.h"
#include "netlink/error.h"
#include "netlink/link.h"
#include "netlink/route.h"
#include "netns/guard.h"
#include "netns/sysctl.h"
#include "plugin/detached_delete.h"
#include "plugin/host_veth.h"

namespace shuttle::plugin {

namespace {

constexpr int kNameAttempts = 8;

netlink::Socket socket_in(int netns_fd) {
    netns::Guard guard(netns_fd);
    return netlink::Socket();
}

IpPrefix host_route_of(const IpAddress& ip) {
    return IpPrefix::host(ip);
}

bool has_family(const std::vector<cni::IpConfig>& ips, int family) {
    return cni::first_of_family(ips, family).has_value();
}

// The host end's name: the first salted name nobody holds. No lookup first: a taken name
// is rare, and EEXIST says so (or that the pod already has `ifname`).
std::string create_veth(netlink::Socket& host, const WireRequest& request) {
    for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
        auto name = host_veth_name(request.container_id, request.ifname, attempt);
        netlink::VethSpec spec;
        spec.local.name = name;
        spec.local.queues = 1;
        spec.peer.name = request.ifname;
        spec.peer.mac = request.pod_mac;
        spec.peer.queues = 1;
        if (request.mtu > 0) {
            spec.local.mtu = static_cast<uint32_t>(request.mtu);
            spec.peer.mtu = static_cast<uint32_t>(request.mtu);
        }
        spec.peer_netns_fd = request.netns_fd;
        try {
            netlink::create_veth(host, spec);
            return name;
        } catch (const netlink::Error& e) {
            if (e.errno_value() != EEXIST || !netlink::find_link(host, name))
                throw;
        }
    }
    throw cni::Error(cni::kNetlinkFailure, "no free host interface name",
                     "all " + std::to_string(kNameAttempts) + " names for " + request.container_id +
                         "/" + request.ifname + " are taken");
}

// An interface sysctl that a kernel without IPv6 lacks: skipped there.
void write_ipv6_sysctl(const std::string& name, const char* key, const char* value) {
    try {
        netns::write_interface_sysctl("ipv6", name, key, value);
    } catch (const std::system_error& e) {
        if (e.code().value() != ENOENT)
            throw;
    }
}

void enable_forwarding(const char* key) {
    if (netns::read_sysctl(key) != "1")
        netns::write_sysctl(key, "1");
}

// IPv6 only where the network has an IPv6 range. With IPv6 on, every host end adds a
// link-local address and routes to the node's IPv6 table, and the kernel walks that whole
// table on each link event: ADD and DEL of an IPv4-only network would slow down with every
// pod already on the node. A dual-stack host end answers neighbour solicitations for the
// gateway it holds, at once (no DAD), and takes no router advertisements.
void set_host_ipv6(const std::string& name, bool ipv6) {
    if (!ipv6) {
        write_ipv6_sysctl(name, "disable_ipv6", "1");
        return;
    }
    netns::write_interface_sysctl("ipv6", name, "accept_dad", "0");
    netns::write_interface_sysctl("ipv6", name, "accept_ra", "0");
}

void add_gateway_address(netlink::Socket& host, const std::string& name, const IpAddress& gateway) {
    netlink::AddressOptions options;
    options.nodad = !gateway.is_v4();
    try {
        netlink::add_address(host, name, IpPrefix::host(gateway), options);
    } catch (const netlink::Error& e) {
        if (e.errno_value() != EEXIST)
            throw;
    }
}

void configure_host_end(netlink::Socket& host, const std::string& name,
                        const WireRequest& request) {
    bool ipv4 = has_family(request.ips, AF_INET);
    bool ipv6 = has_family(request.ips, AF_INET6);
    set_host_ipv6(name, ipv6);
    if (ipv4) {
        netns::write_interface_sysctl("ipv4", name, "proxy_arp", "1");
        // Proxy ARP answers after a random delay of up to proxy_delay (0.8 s by default): the
        // pod's first packet to a neighbour would wait for it.
        netns::write_sysctl("net/ipv4/neigh/" + name + "/proxy_delay", "0");
    }
    netlink::set_link_up(host, name);
    for (const auto& ip : request.ips) {
        if (ip.gateway)
            add_gateway_address(host, name, *ip.gateway);
        netlink::Route route;
        route.destination = host_route_of(ip.address.address);
        route.dev = netlink::LinkRef(name);
        route.scope = RT_SCOPE_LINK;
        netlink::replace_route(host, route);
    }
    if (ipv4)
        enable_forwarding("net.ipv4.ip_forward");
    if (ipv6)
        enable_forwarding("net.ipv6.conf.all.forwarding");
}

// The pod's IPv6 address is usable at once (no DAD, as the bridge plugin arranges), and
// has no on-link prefix route: the pod sends every IPv6 packet to the gateway, which the
// host end holds and answers neighbour solicitations for, so pods of the same prefix reach
// each other through the host's /128 routes (IPv6 has no proxy_arp for a whole prefix).
void configure_pod_end(netlink::Socket& pod, int netns_fd, const WireRequest& request) {
    if (has_family(request.ips, AF_INET6)) {
        netns::Guard guard(netns_fd);
        netns::write_interface_sysctl("ipv6", request.ifname, "accept_dad", "0");
    }
    netlink::set_link_up(pod, request.ifname);
    for (const auto& ip : request.ips) {
        netlink::AddressOptions options;
        if (!ip.address.address.is_v4()) {
            options.nodad = true;
            options.noprefixroute = true;
        }
        netlink::add_address(pod, request.ifname, ip.address, options);
    }
    for (const auto& r : request.routes) {
        netlink::Route route;
        route.destination = r.dst;
        route.gateway = r.gw ? r.gw : cni::gateway_of(request.ips, r.dst.address.family);
        route.dev = netlink::LinkRef(request.ifname);
        route.onlink = route.gateway.has_value();
        if (r.priority)
            route.priority = static_cast<uint32_t>(*r.priority);
        netlink::replace_route(pod, route);
    }
}

std::vector<netlink::Route> list_routes_both(netlink::Socket& socket) {
    auto routes = netlink::list_routes(socket, AF_INET);
    auto v6 = netlink::list_routes(socket, AF_INET6);
    routes.insert(routes.end(), v6.begin(), v6.end());
    return routes;
}

std::optional<IpAddress> gateway_for(const ExpectedWiring& expected, int family) {
    for (const auto& gateway : expected.gateways) {
        if (gateway.family == family)
            return gateway;
    }
    return std::nullopt;
}

bool has_route(const std::vector<netlink::Route>& routes, const IpPrefix& dst,
               const std::optional<IpAddress>& gw, int index) {
    return std::any_of(routes.begin(), routes.end(), [&](const netlink::Route& r) {
        return r.destination == dst && (!gw || r.gateway == gw) &&
               (!r.dev || r.dev->index == index);
    });
}

}  // namespace

netlink::Socket pod_socket(int netns_fd) {
    return socket_in(netns_fd);
}

bool pod_has_interface(netlink::Socket& pod, const std::string& ifname) {
    return netlink::find_link(pod, ifname).has_value();
}

Wired wire_pod(const WireRequest& request, netlink::Socket& pod, Rollback& rollback) {
    netlink::Socket host;
    Wired wired;
    wired.host_ifname = create_veth(host, request);
    rollback.add([name = wired.host_ifname] { remove_host_veth(name); });
    configure_pod_end(pod, request.netns_fd, request);
    configure_host_end(host, wired.host_ifname, request);
    auto host_link = netlink::get_link(host, wired.host_ifname);
    auto pod_link = netlink::get_link(pod, request.ifname);
    wired.host_index = host_link.index;
    wired.host_mac = host_link.mac.value_or(MacAddress{});
    wired.pod_index = pod_link.index;
    wired.pod_mac = pod_link.mac.value_or(MacAddress{});
    wired.mtu = static_cast<int>(pod_link.mtu);
    return wired;
}

void remove_host_veth(const std::string& host_ifname) {
    if (host_ifname.empty())
        return;
    netlink::Socket host;
    try {
        netlink::delete_link(host, host_ifname);
    } catch (const netlink::Error& e) {
        if (e.errno_value() != ENODEV && e.errno_value() != ENOENT)
            throw;
    }
}

void remove_pod_interface(const std::string& netns_path, const std::string& ifname) {
    if (netns_path.empty())
        return;
    UniqueFd fd;
    try {
        fd = netns::open(netns_path);
    } catch (const std::system_error& e) {
        if (e.code().value() == ENOENT)
            return;  // the netns is gone, and the veth with it
        throw;
    }
    auto pod = socket_in(fd.get());
    try {
        auto link = netlink::find_link(pod, ifname);
        if (link)
            delete_link_detached(pod, fd.get(), link->index, "delete link " + ifname);
    } catch (const netlink::Error& e) {
        if (e.errno_value() != ENODEV && e.errno_value() != ENOENT)
            throw;
    }
}

std::vector<std::string> check_wiring(const ExpectedWiring& expected) {
    std::vector<std::string> drift;
    auto fd = netns::open(expected.netns_path);
    auto pod = socket_in(fd.get());
    auto link = netlink::find_link(pod, expected.ifname);
    if (!link) {
        drift.push_back("interface " + expected.ifname + " is missing in " + expected.netns_path);
        return drift;
    }
    if (!expected.pod_mac.empty() && link->mac && link->mac->str() != expected.pod_mac) {
        drift.push_back(expected.ifname + " has MAC " + link->mac->str() + ", expected " +
                        expected.pod_mac);
    }
    if (expected.mtu && static_cast<int>(link->mtu) != *expected.mtu) {
        drift.push_back(expected.ifname + " has MTU " + std::to_string(link->mtu) + ", expected " +
                        std::to_string(*expected.mtu));
    }
    if (!link->up())
        drift.push_back(expected.ifname + " is down");
    auto addresses = netlink::list_addresses(pod, AF_UNSPEC, link->index);
    for (const auto& want : expected.addresses) {
        bool found = std::any_of(addresses.begin(), addresses.end(),
                                 [&](const netlink::Address& a) { return a.prefix == want; });
        if (!found)
            drift.push_back(expected.ifname + " lacks address " + want.str());
    }
    auto routes = list_routes_both(pod);
    for (const auto& want : expected.routes) {
        auto gw = want.gw ? want.gw : gateway_for(expected, want.dst.address.family);
        if (!has_route(routes, want.dst, gw, link->index)) {
            drift.push_back("route " + want.dst.str() + (gw ? " via " + gw->str() : "") +
                            " is missing in the container");
        }
    }
    if (expected.host_ifname.empty())
        return drift;
    netlink::Socket host;
    auto host_link = netlink::find_link(host, expected.host_ifname);
    if (!host_link) {
        drift.push_back("host interface " + expected.host_ifname + " is missing");
        return drift;
    }
    if (!host_link->up())
        drift.push_back("host interface " + expected.host_ifname + " is down");
    auto host_routes = list_routes_both(host);
    auto host_addresses = netlink::list_addresses(host, AF_UNSPEC, host_link->index);
    for (const auto& want : expected.addresses) {
        if (!has_route(host_routes, host_route_of(want.address), std::nullopt, host_link->index)) {
            drift.push_back("host route " + host_route_of(want.address).str() + " dev " +
                            expected.host_ifname + " is missing");
        }
    }
    for (const auto& gateway : expected.gateways) {
        auto gw = IpPrefix::host(gateway);
        bool found = std::any_of(host_addresses.begin(), host_addresses.end(),
                                 [&](const netlink::Address& a) { return a.prefix == gw; });
        if (!found)
            drift.push_back("host interface " + expected.host_ifname + " lacks " + gw.str());
    }
    bool ipv4 = std::any_of(expected.addresses.begin(), expected.addresses.end(),
                            [](const IpPrefix& p) { return p.address.is_v4(); });
    if (ipv4 && netns::read_interface_sysctl("ipv4", expected.host_ifname, "proxy_arp") != "1") {
        drift.push_back("proxy_arp is off on " + expected.host_ifname);
    }
    return drift;
}

}  // namespace shuttle::plugin
