#include "plugin/datapath_hook.h"

#include <net/if.h>

#include "cni/error.h"
#include "datapath/bpffs.h"
#include "datapath/datapath.h"
#include "plugin/log.h"

#include <filesystem>
#include <stdexcept>

namespace shuttle::plugin {

namespace {

datapath::Options options_of(const Network& net) {
    datapath::Options options;
    options.bpffs_root = net.conf.bpffs_root;
    switch (net.conf.attach) {
        case cni::AttachMode::Auto:
            // tc unless a chained bandwidth plugin will add an ingress qdisc, which clsact
            // blocks: TCX coexists with qdiscs, but each TCX link create or detach waits for an
            // RCU grace period (~10 ms per hook here), so tc keeps ADD and DEL fast.
            options.attach =
                net.conf.egress_shaping ? datapath::AttachMode::Auto : datapath::AttachMode::Tc;
            break;
        case cni::AttachMode::Tcx:
            options.attach = datapath::AttachMode::Tcx;
            break;
        case cni::AttachMode::Tc:
        case cni::AttachMode::None:  // DEL and GC still detach what an earlier mode attached
            options.attach = datapath::AttachMode::Tc;
            break;
    }
    return options;
}

std::optional<IpPrefix> address_of(const AttachmentRecord& record, int family) {
    for (const auto& address : record.addresses) {
        if (address.address.family == family)
            return address;
    }
    return std::nullopt;
}

// A pod's endpoint is keyed by its IPv4 address (endpoint_meta, the attach mode), its IPv6
// address rides along; a pod without IPv4 (an IPv6-only network) is keyed by its IPv6 one.
std::optional<IpPrefix> ipv4_address(const AttachmentRecord& record) {
    return address_of(record, AF_INET);
}

bool has_address(const AttachmentRecord& record) {
    return address_of(record, AF_INET) || address_of(record, AF_INET6);
}

// The IPv6 half of the node config: FLANNEL_IPV6_SUBNET (else the pod's prefix), the pod's
// IPv6 gateway (else the subnet's first address, host-local's default), FLANNEL_IPV6_NETWORK
// (else the subnet).
std::optional<datapath::NodeConfig6> node_config6_of(const Network& net,
                                                     const AttachmentRecord& record) {
    auto pod_ipv6 = address_of(record, AF_INET6);
    if (!pod_ipv6)
        return std::nullopt;
    datapath::NodeConfig6 cfg;
    cfg.node_subnet = net.node_subnet6.value_or(*pod_ipv6).network();
    cfg.cluster_network = net.subnet_env && net.subnet_env->ipv6_network
                              ? net.subnet_env->ipv6_network->network()
                              : cfg.node_subnet;
    cfg.gateway = record.gateway6.value_or(
        IpAddress::from_integer(AF_INET6, cfg.node_subnet.address.to_integer() + 1));
    return cfg;
}

datapath::Endpoint endpoint_of(const AttachmentRecord& record, int host_ifindex) {
    datapath::Endpoint endpoint;
    endpoint.ip = ipv4_address(record).value_or(IpPrefix{}).address;
    endpoint.ip6 = address_of(record, AF_INET6).value_or(IpPrefix{}).address;
    auto pod_mac = MacAddress::parse(record.pod_mac);
    auto host_mac = MacAddress::parse(record.host_mac);
    if (!pod_mac || !host_mac) {
        throw std::runtime_error("attachment record of " + record.container_id +
                                 " has no valid MACs");
    }
    endpoint.pod_mac = *pod_mac;
    endpoint.host_mac = *host_mac;
    endpoint.host_ifindex = host_ifindex;
    endpoint.host_ifname = record.host_ifname;
    endpoint.container_id = record.container_id;
    endpoint.ifname = record.ifname;
    endpoint.pod_namespace = record.pod_namespace;
    endpoint.pod_name = record.pod_name;
    if (!record.attach.empty())
        endpoint.attach = datapath::parse_attach_mode(record.attach);
    return endpoint;
}

template <typename F>
auto as_datapath_error(const char* what, F action) {
    try {
        return action();
    } catch (const cni::Error&) {
        throw;
    } catch (const std::exception& e) {
        throw cni::Error(cni::kDatapathFailure, std::string("datapath ") + what + " failed",
                         e.what());
    }
}

void log_bpffs_mount(const Network& net, const std::string& mount_point) {
    if (!mount_point.empty()) {
        log_line(net.conf.log_file,
                 "mounted a bpf filesystem at " + mount_point + " (nothing was mounted there)");
    }
}

// The programs find pods by their offset in the node subnet and answer ARP for the gateway
// and the cluster network: without subnet.env, the pod's own prefix is both.
void set_pod_network(const Network& net, const AttachmentRecord& record, const IpPrefix& pod_ipv4,
                     datapath::Node& node) {
    IpPrefix subnet = net.node_subnet.value_or(pod_ipv4).network();
    IpPrefix cluster =
        net.subnet_env && net.subnet_env->has_ipv4() ? net.subnet_env->network.network() : subnet;
    IpAddress gateway = record.gateway && record.gateway->is_v4()
                            ? *record.gateway
                            : IpAddress::v4(subnet.address.v4_host_order() + 1);
    node.set_pod_network(subnet, gateway, cluster);
}

}  // namespace

std::string attach_mode_of(const Network& net) {
    return datapath::to_string(options_of(net).attach);
}

int reattach_recorded(const std::string& state_dir, datapath::Node& node,
                      const ReattachFailure& on_failure) {
    int count = 0;
    for (const AttachmentRecord& record : AttachmentStore(state_dir).list()) {
        int index = static_cast<int>(::if_nametoindex(record.host_ifname.c_str()));
        if (!has_address(record) || index == 0) {
            continue;
        }
        try {
            node.attach(endpoint_of(record, index));
            ++count;
        } catch (const std::exception& e) {
            if (on_failure) {
                on_failure(record, e);
            }
        }
    }
    return count;
}

void datapath_attach(const Network& net, const AttachmentRecord& record, int host_ifindex) {
    auto pod_ipv4 = ipv4_address(record);
    if (!has_address(record) || net.conf.attach == cni::AttachMode::None)
        return;
    as_datapath_error("attach", [&] {
        auto node = datapath::Node::ensure(options_of(net));
        log_bpffs_mount(net, node.bpffs_mounted_at());
        // An IPv6-only pod leaves node_config (IPv4) alone: IPv4 it sends is dropped.
        if (pod_ipv4)
            set_pod_network(net, record, *pod_ipv4, node);
        auto config6 = node_config6_of(net, record);
        // A new IPv6 config: pods attached before have no IPv6 entry (or a stale one).
        bool config6_changed = config6 && node.set_pod_network6(*config6);
        if (node.maps_created() || config6_changed) {
            // one stale record must not fail a new pod's ADD; CHECK reports the drift
            reattach_recorded(net.state_dir, node);
        }
        node.attach(endpoint_of(record, host_ifindex));
    });
}

void datapath_detach(const Network& net, const AttachmentRecord& record) {
    if (record.addresses.empty())
        return;
    std::optional<datapath::Node> node;
    try {
        node.emplace(datapath::Node::open_existing(options_of(net)));
    } catch (const std::exception&) {
        return;  // no datapath pinned on this node (never attached, or bpffs remounted)
    }
    as_datapath_error("detach", [&] {
        for (const auto& address : record.addresses) {
            node->detach(record.host_ifname, address.address);
        }
    });
}

std::string datapath_check(const Network& net, const AttachmentRecord& record) {
    if (!has_address(record) || net.conf.attach == cni::AttachMode::None)
        return "";
    return as_datapath_error("check", [&]() -> std::string {
        std::optional<datapath::Node> node;
        try {
            node.emplace(datapath::Node::open_existing(options_of(net)));
        } catch (const std::exception& e) {
            return std::string("datapath: ") + e.what();
        }
        auto index = static_cast<int>(::if_nametoindex(record.host_ifname.c_str()));
        auto drift = node->check(endpoint_of(record, index));
        return drift.empty() ? "" : "datapath: " + drift;
    });
}

std::string datapath_status(const Network& net) {
    if (net.conf.attach == cni::AttachMode::None)
        return "";
    try {
        // What the next ADD would do, so that STATUS answers for the node after it.
        log_bpffs_mount(net, datapath::mount_bpffs_if_missing(net.conf.bpffs_root));
    } catch (const std::exception& e) {
        return e.what();
    }
    std::filesystem::path path = net.conf.bpffs_root;
    std::error_code ec;
    while (!std::filesystem::exists(path, ec) && path.has_parent_path() &&
           path != path.parent_path()) {
        path = path.parent_path();
    }
    if (datapath::is_on_bpffs(path.string()))
        return "";
    return path.string() + " is not on a bpf filesystem (bpffsRoot " + net.conf.bpffs_root +
           "); run: " + datapath::bpffs_mount_command(net.conf.bpffs_root);
}

}  // namespace shuttle::plugin
