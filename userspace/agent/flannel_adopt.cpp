#include "agent/flannel_adopt.h"

#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "common/unique_fd.h"
#include "netlink/address.h"
#include "netlink/error.h"
#include "netlink/fdb.h"
#include "netlink/link.h"
#include "netlink/neighbour.h"
#include "netlink/route.h"
#include "netns/sysctl.h"
#include "plugin/attachment.h"

namespace shuttle::agent {

namespace {

struct Reservation {
    IpAddress ip;
    std::string container_id;
    std::string ifname;
    std::optional<IpAddress> ip6;  // the same attachment's IPv6 reservation
};

// host-local's files: <dir>/<ip> holding "<container id>\r\n<ifname>". One entry per IPv4
// address in subnet, with the attachment's IPv6 address in subnet6 when there is one.
std::vector<Reservation> read_reservations(const std::string& dir, const IpPrefix& subnet,
                                           const std::optional<IpPrefix>& subnet6) {
    std::vector<Reservation> out, v6;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
        auto ip = IpAddress::parse(entry.path().filename().string());
        bool wanted =
            ip && (ip->is_v4() ? subnet.contains(*ip) : subnet6 && subnet6->contains(*ip));
        if (!wanted) {
            continue;
        }
        std::ifstream in(entry.path());
        std::string id, ifname;
        std::getline(in, id);
        std::getline(in, ifname);
        for (auto* text : {&id, &ifname}) {
            while (!text->empty() && (text->back() == '\r' || text->back() == ' ')) {
                text->pop_back();
            }
        }
        (ip->is_v4() ? out : v6).push_back({*ip, id, ifname.empty() ? "eth0" : ifname, {}});
    }
    for (auto& pod : out) {
        for (const auto& other : v6) {
            if (other.container_id == pod.container_id && other.ifname == pod.ifname) {
                pod.ip6 = other.ip;
            }
        }
    }
    return out;
}

IpAddress first_address(const IpPrefix& subnet) {
    auto network = subnet.network().address;
    return IpAddress::from_integer(network.family, network.to_integer() + 1);
}

void add_host_address(netlink::Socket& socket, const netlink::Link& veth, const IpAddress& ip) {
    netlink::AddressOptions options;
    options.nodad = !ip.is_v4();
    try {
        netlink::add_address(socket, netlink::LinkRef(veth.index, veth.name), IpPrefix::host(ip),
                             options);
    } catch (const netlink::Error& e) {
        if (e.errno_value() != EEXIST) {
            throw;
        }
    }
}

void add_pod_route(netlink::Socket& socket, const netlink::Link& veth, const IpAddress& ip) {
    netlink::Route route;
    route.destination = IpPrefix::host(ip);
    route.dev = netlink::LinkRef(veth.index, veth.name);
    route.scope = RT_SCOPE_LINK;
    netlink::replace_route(socket, route);
}

// The IPv6 half of the plugin's configure_host_end: the gateway answered at once (no DAD),
// no router advertisements taken.
void configure_host_ipv6(netlink::Socket& socket, const netlink::Link& veth,
                         const IpAddress& pod_ip6, const IpAddress& gateway6) {
    netns::write_interface_sysctl("ipv6", veth.name, "disable_ipv6", "0");
    netns::write_interface_sysctl("ipv6", veth.name, "accept_dad", "0");
    netns::write_interface_sysctl("ipv6", veth.name, "accept_ra", "0");
    add_host_address(socket, veth, gateway6);
    add_pod_route(socket, veth, pod_ip6);
}

// A datagram to each address makes the kernel resolve it on cni0.
void provoke_arp(const std::vector<Reservation>& pods) {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
        return;
    }
    for (const auto& pod : pods) {
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(9);  // discard
        to.sin_addr.s_addr = htonl(pod.ip.v4_host_order());
        sendto(fd.get(), "", 0, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    }
}

std::map<IpAddress, MacAddress> resolved_neighbours(netlink::Socket& socket, int bridge) {
    std::map<IpAddress, MacAddress> out;
    for (const auto& n : netlink::list_neighbours(socket, AF_INET, bridge)) {
        if (n.mac && (n.state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE))) {
            out[n.address] = *n.mac;
        }
    }
    return out;
}

void adopt_one(netlink::Socket& socket, datapath::Node& node, const AdoptOptions& options,
               const Reservation& pod, const MacAddress& pod_mac, const netlink::Link& veth,
               const MacAddress& bridge_mac, const IpAddress& gateway) {
    netlink::set_link_nomaster(socket, veth.index);
    // The pod's ARP cache names cni0's MAC for the gateway: the host veth takes it over.
    netlink::set_link_mac(socket, netlink::LinkRef(veth.index, veth.name), bridge_mac);
    netns::write_interface_sysctl("ipv4", veth.name, "proxy_arp", "1");
    netns::write_sysctl("net/ipv4/neigh/" + veth.name + "/proxy_delay", "0");
    add_host_address(socket, veth, gateway);
    add_pod_route(socket, veth, pod.ip);
    std::optional<IpAddress> gateway6;
    if (pod.ip6 && options.node_subnet6) {
        gateway6 = first_address(*options.node_subnet6);
        configure_host_ipv6(socket, veth, *pod.ip6, *gateway6);
    }

    datapath::Endpoint endpoint;
    endpoint.ip = pod.ip;
    if (gateway6) {
        endpoint.ip6 = *pod.ip6;
    }
    endpoint.pod_mac = pod_mac;
    endpoint.host_mac = bridge_mac;
    endpoint.host_ifindex = veth.index;
    endpoint.host_ifname = veth.name;
    endpoint.container_id = pod.container_id;
    endpoint.ifname = pod.ifname;
    node.attach(endpoint);

    plugin::AttachmentRecord record;
    record.container_id = pod.container_id;
    record.ifname = pod.ifname;
    record.host_ifname = veth.name;
    record.pod_mac = pod_mac.str();
    record.host_mac = bridge_mac.str();
    record.addresses.push_back(IpPrefix{pod.ip, options.node_subnet.length});
    record.gateway = gateway;
    if (gateway6) {
        record.addresses.push_back(IpPrefix{*pod.ip6, options.node_subnet6->length});
        record.gateway6 = gateway6;
    }
    record.ipam_type = "host-local";
    std::filesystem::create_directories(options.state_dir);
    plugin::AttachmentStore(options.state_dir).save(record);
    // flannel's CNI plugin kept the delegate config for its DEL; DEL now goes through shuttle.
    std::error_code ignored;
    std::filesystem::remove(options.flannel_delegate_dir + "/" + pod.container_id, ignored);
}

}  // namespace

std::vector<std::string> adopt_flannel_pods(netlink::Socket& socket, datapath::Node& node,
                                            const AdoptOptions& options) {
    std::vector<std::string> done;
    auto bridge = netlink::find_link(socket, netlink::LinkRef(options.bridge));
    if (!bridge || bridge->kind != "bridge" || !bridge->mac) {
        return done;
    }
    auto pods = read_reservations(options.ipam_dir + "/" + options.network, options.node_subnet,
                                  options.node_subnet6);
    // The store is shared with shuttle's own pods: those already have a record.
    plugin::AttachmentStore records(options.state_dir);
    std::erase_if(pods, [&records](const Reservation& pod) {
        return records.load(pod.container_id, pod.ifname).has_value();
    });
    auto gateway = first_address(options.node_subnet);
    bool any_ipv6 = std::any_of(pods.begin(), pods.end(),
                                [](const Reservation& pod) { return pod.ip6.has_value(); });
    if (any_ipv6 && options.node_subnet6) {
        // What the plugin's first dual-stack ADD writes; pods attached before an IPv6 config
        // existed were IPv4-only ones, so none needs re-attaching for it.
        node.set_pod_network6({options.node_subnet6->network(),
                               first_address(*options.node_subnet6), options.cluster_network6});
    }
    auto neighbours = resolved_neighbours(socket, bridge->index);
    for (int attempt = 0; attempt < 10 && neighbours.size() < pods.size(); ++attempt) {
        provoke_arp(pods);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        neighbours = resolved_neighbours(socket, bridge->index);
    }
    std::map<MacAddress, int> port_of;  // learned pod MACs -> bridge port
    for (const auto& entry : netlink::list_fdb(socket)) {
        if (entry.master == bridge->index && entry.dev.index != bridge->index &&
            !(entry.state & NUD_PERMANENT)) {
            port_of[entry.mac] = entry.dev.index;
        }
    }
    for (const auto& pod : pods) {
        if (pod.ip == gateway) {
            continue;
        }
        auto mac = neighbours.find(pod.ip);
        auto port = mac == neighbours.end() ? port_of.end() : port_of.find(mac->second);
        if (port == port_of.end()) {
            done.push_back("left on " + options.bridge + ": " + pod.ip.str() + " (" +
                           pod.container_id + "): no ARP answer or no bridge port");
            continue;
        }
        auto veth = netlink::get_link(socket, netlink::LinkRef(port->second));
        adopt_one(socket, node, options, pod, mac->second, veth, *bridge->mac, gateway);
        bool with_ipv6 = pod.ip6 && options.node_subnet6;
        done.push_back("adopted " + pod.ip.str() + (with_ipv6 ? " and " + pod.ip6->str() : "") +
                       " (" + pod.container_id + ") on " + veth.name);
    }
    bool ports_left = false;
    for (const auto& link : netlink::list_links(socket)) {
        ports_left = ports_left || link.master == bridge->index;
    }
    if (!ports_left) {
        netlink::delete_link(socket, netlink::LinkRef(bridge->index, bridge->name));
        done.push_back("deleted " + bridge->name);
    }
    return done;
}

}  // namespace shuttle::agent
