#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cni/result.h"
#include "common/ip.h"
#include "netlink/socket.h"
#include "plugin/rollback.h"

namespace shuttle::plugin {

// What ADD asks of the kernel for one pod, ptp-style (no bridge).
struct WireRequest {
    std::string container_id;
    std::string ifname;  // the pod end, inside the pod's netns
    int netns_fd = -1;
    int mtu = 0;  // 0: the kernel's default
    std::optional<MacAddress> pod_mac;
    std::vector<cni::IpConfig> ips;  // IPv4 and IPv6, each with its gateway
    std::vector<cni::Route> routes;  // pod routes; a missing gw means "via the gateway"
};

struct Wired {
    std::string host_ifname;
    int host_index = 0;
    MacAddress host_mac;
    int pod_index = 0;
    MacAddress pod_mac;
    int mtu = 0;
};

// True when the pod's netns already has `ifname`.
// An rtnetlink socket in the pod's namespace: ADD opens one and uses it for every step.
netlink::Socket pod_socket(int netns_fd);

bool pod_has_interface(netlink::Socket& pod, const std::string& ifname);

// Creates the veth pair (host end named host_veth_name(), peer created straight inside the
// pod's netns), sets MTU and MAC, the pod's addresses and routes (default via the gateway
// of each family), the gateways as /32 or /128 on the host end (+ proxy_arp for IPv4), a
// /32 or /128 host route per pod address, and forwarding of each family in the namespace
// this runs in. IPv6 stays off on the host end of a pod without an IPv6 address.
// Registers its undo on `rollback`.
Wired wire_pod(const WireRequest& request, netlink::Socket& pod, Rollback& rollback);

// Deletes the host end (its routes and addresses go with it). Missing is fine.
void remove_host_veth(const std::string& host_ifname);
// Deletes `ifname` inside the netns at `netns_path`. A missing netns or link is fine.
void remove_pod_interface(const std::string& netns_path, const std::string& ifname);

// What CHECK compares: the live state against the expected one. Returns one line per drift.
struct ExpectedWiring {
    std::string netns_path;
    std::string ifname;
    std::string pod_mac;  // empty: not compared
    std::optional<int> mtu;
    std::vector<IpPrefix> addresses;
    std::vector<cni::Route> routes;
    std::vector<IpAddress> gateways;  // one per family: routes without gw use their family's
    std::string host_ifname;          // empty: not compared
};
std::vector<std::string> check_wiring(const ExpectedWiring& expected);

}  // namespace shuttle::plugin
