#include "agent/node_datapath.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <bpf/bpf.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "common/json_text.h"
#include "agent/flannel_adopt.h"
#include "agent/log.h"
#include "plugin/attachment.h"
#include "plugin/datapath_hook.h"
#include "common/system_error.h"
#include "common/unique_fd.h"
#include "masquerade/masquerade.h"
#include "netlink/address.h"
#include "overlay/vxlan_device.h"
#include "overlay/vxlan_ipv6.h"
#include "shuttle_abi.h"

namespace shuttle::agent {

namespace {

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return std::nullopt;
    }
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

uint16_t vxlan_port(const NetworkConfig& config) {
    return config.port == 0 ? overlay::kDefaultPort : static_cast<uint16_t>(config.port);
}

}  // namespace

datapath::OverlayMode parse_overlay_mode(const std::string& text) {
    if (text == "direct") {
        return datapath::OverlayMode::direct;
    }
    if (text == "device") {
        return datapath::OverlayMode::device;
    }
    throw std::invalid_argument("--overlay: \"" + text + "\" is neither direct nor device");
}

std::string to_string(datapath::OverlayMode mode) {
    return mode == datapath::OverlayMode::direct ? "direct" : "device";
}

std::string cni_conflist_text(const std::string& subnet_file, const std::string& bpffs_root) {
    nlohmann::ordered_json shuttle = {
        {"type", "shuttle"},
        {"subnetFile", subnet_file},
        {"ipMasq", false},
    };
    if (bpffs_root != datapath::Options{}.bpffs_root) {
        shuttle["bpffsRoot"] = bpffs_root;
    }
    // As tools/install/10-shuttle.conflist: the plugin learns of a chained bandwidth plugin.
    shuttle["capabilities"] = {{"bandwidth", true}};
    nlohmann::ordered_json conflist = {
        {"cniVersion", "1.0.0"},
        {"name", "cbr0"},
        {"plugins",
         {shuttle,
          {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}},
          {{"type", "bandwidth"}, {"capabilities", {{"bandwidth", true}}}}}},
    };
    return dump_json(conflist, 2) + "\n";
}

bool write_file_if_different(const std::string& path, const std::string& text) {
    if (read_file(path) == text) {
        return false;
    }
    auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) {
        std::filesystem::create_directories(path.substr(0, slash));
    }
    auto temporary = path + ".tmp." + std::to_string(getpid());
    {
        UniqueFd fd(open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) {
            throw_errno("create " + temporary);
        }
        size_t done = 0;
        while (done < text.size()) {
            auto n = write(fd.get(), text.data() + done, text.size() - done);
            if (n < 0) {
                int saved = errno;
                unlink(temporary.c_str());
                errno = saved;
                throw_errno("write " + temporary);
            }
            done += static_cast<size_t>(n);
        }
        fsync(fd.get());
    }
    if (rename(temporary.c_str(), path.c_str()) != 0) {
        int saved = errno;
        unlink(temporary.c_str());
        errno = saved;
        throw_errno("rename " + temporary + " to " + path);
    }
    return true;
}

NodeDatapath::NodeDatapath(NodeDatapathOptions options)
    : options_(std::move(options)),
      node_(datapath::Node::ensure({options_.bpffs_root, datapath::AttachMode::Auto})) {
    if (!node_.bpffs_mounted_at().empty()) {
        log_info("mounted a bpf filesystem at " + node_.bpffs_mounted_at() +
                 " (nothing was mounted there)");
    }
    log_info("datapath " + node_.pin_dir() + (node_.programs_loaded() ? ": programs loaded" : "") +
             (node_.maps_created() ? ", maps created" : ", maps reused"));
}

void NodeDatapath::apply_lease(const IpPrefix& subnet, const MacAddress& vtep_mac,
                               const NetworkConfig& config,
                               const std::optional<IpPrefix>& ipv6_subnet) {
    std::lock_guard lock(mutex_);
    wanted_ = Applied{subnet, vtep_mac, config, 0, "", ipv6_subnet};
    try {
        apply_locked(subnet, vtep_mac, config, ipv6_subnet);
    } catch (const std::exception& e) {
        problem_ = std::string("datapath: ") + e.what();
        throw;
    }
    // A new or recreated device has no IPv6 routes yet.
    if (peers_) {
        routes_pending_ = true;
        write_routes_locked();
    }
}

void NodeDatapath::write_conflist_locked() {
    if (!options_.cni_conf_dir.empty()) {
        auto path = options_.cni_conf_dir + "/" + options_.cni_conf_name;
        if (write_file_if_different(path,
                                    cni_conflist_text(options_.subnet_file, options_.bpffs_root))) {
            log_info("wrote " + path);
        }
    }
}

// An IPv6-only network: shuttle.<VNI> with PublicIPv6 as its local address, IPv6 only (no
// IPv4 address or route). node_config gets the overlay fields only (device, VNI, VtepMAC; no
// IPv4 subnet or underlay address, which the IPv4 paths read as "no route, no pod") and the
// overlay programs go on the device, so from_overlay checks IPv6 tunnel packets by peers6
// as on dual-stack. Fresh maps: node_config6 and the recorded (IPv6-only) pods again.
void NodeDatapath::apply_ipv6_only_locked(const MacAddress& vtep_mac, const NetworkConfig& config,
                                          const IpPrefix& ipv6_subnet) {
    if (!options_.public_ipv6) {
        throw std::runtime_error("an IPv6-only network needs this node's PublicIPv6");
    }
    overlay::VxlanDeviceSpec spec;
    spec.vni = static_cast<uint32_t>(config.vni);
    spec.port = vxlan_port(config);
    spec.underlay = netlink::LinkRef(options_.underlay_ifname);
    spec.public_ip = *options_.public_ipv6;
    spec.ipv4 = false;
    // An IPv6 outer header is 20 bytes longer: the kernel refuses more than underlay - 70.
    spec.mtu = overlay::overlay_mtu(static_cast<uint32_t>(options_.underlay_mtu)) - 20;
    spec.vtep_mac = vtep_mac;
    auto device = overlay::ensure_vxlan_device(netlink_, spec);
    if (device.action != overlay::VxlanDevice::Action::unchanged) {
        log_info("VXLAN device " + device.name + " (ifindex " + std::to_string(device.index) +
                 ", MAC " + device.mac.str() + ", MTU " + std::to_string(device.mtu) +
                 ", IPv6 only, local " + spec.public_ip.str() + "): updated or created");
    }
    overlay::ensure_ipv6_device(netlink_, device.name, ipv6_subnet);
    node_.set_overlay(device.index, spec.vni, device.mac, IpAddress{});
    if (node_.maps_created() && !pods_reattached_) {
        // The plugin's IPv6 node config, as its next ADD would write it (host-local's gateway:
        // the subnet's first address), so that the recorded IPv6-only pods can be attached.
        datapath::NodeConfig6 config6;
        config6.node_subnet = ipv6_subnet.network();
        config6.gateway =
            IpAddress::from_integer(AF_INET6, config6.node_subnet.address.to_integer() + 1);
        config6.cluster_network = config.ipv6_network.network();
        node_.set_pod_network6(config6);
        reattach_recorded_pods();
        pods_reattached_ = true;
    }
    node_.attach_overlay(device.index, device.name);
    applied_ = Applied{IpPrefix{}, vtep_mac, config, device.index, device.name, ipv6_subnet};
    problem_.clear();
    write_conflist_locked();
}

void NodeDatapath::apply_locked(const IpPrefix& subnet, const MacAddress& vtep_mac,
                                const NetworkConfig& config,
                                const std::optional<IpPrefix>& ipv6_subnet) {
    if (!config.enable_ipv4) {
        if (!ipv6_subnet) {
            throw std::runtime_error("an IPv6-only network's lease has no IPv6 subnet");
        }
        apply_ipv6_only_locked(vtep_mac, config, *ipv6_subnet);
        return;
    }
    overlay::VxlanDeviceSpec spec;
    spec.vni = static_cast<uint32_t>(config.vni);
    spec.port = vxlan_port(config);
    spec.underlay = netlink::LinkRef(options_.underlay_ifname);
    spec.public_ip = options_.public_ip;
    spec.node_subnet = subnet;
    spec.cluster_network = config.network;
    spec.mtu = overlay::overlay_mtu(static_cast<uint32_t>(options_.underlay_mtu));
    // The lease's VtepMAC is the one source of truth: peers address us by it.
    spec.vtep_mac = vtep_mac;
    auto device = overlay::ensure_vxlan_device(netlink_, spec);
    if (device.action != overlay::VxlanDevice::Action::unchanged) {
        log_info("VXLAN device " + device.name + " (ifindex " + std::to_string(device.index) +
                 ", MAC " + device.mac.str() + ", MTU " + std::to_string(device.mtu) + ", " +
                 device.address.str() + "): " +
                 (device.action == overlay::VxlanDevice::Action::created     ? "created"
                  : device.action == overlay::VxlanDevice::Action::recreated ? "recreated"
                                                                             : "updated"));
    }
    auto gateway = IpAddress::v4(subnet.network().address.v4_host_order() + 1);
    node_.set_pod_network(subnet.network(), gateway, config.network);
    node_.set_overlay(device.index, spec.vni, device.mac, options_.public_ip);
    if (node_.maps_created() && !pods_reattached_) {
        reattach_recorded_pods();
        pods_reattached_ = true;
    }
    node_.attach_overlay(device.index, device.name);
    std::optional<IpPrefix> ipv6;
    if (config.enable_ipv6 && ipv6_subnet && options_.public_ipv6) {
        overlay::ensure_ipv6_device(netlink_, device.name, *ipv6_subnet);
        ipv6 = ipv6_subnet;
    }
    apply_overlay_mode_locked(spec.port);
    if (options_.ip_masq) {
        masquerade::ensure({config.network, subnet.network()});
    }
    if (options_.adopt_flannel_pods) {
        AdoptOptions adopt;
        adopt.node_subnet = subnet.network();
        if (ipv6) {
            adopt.node_subnet6 = ipv6->network();
            adopt.cluster_network6 = config.ipv6_network.network();
        }
        for (const auto& line : adopt_flannel_pods(netlink_, node_, adopt)) {
            log_info("migration from flannel: " + line);
        }
    }
    applied_ = Applied{subnet, vtep_mac, config, device.index, device.name, ipv6};
    problem_.clear();
    write_conflist_locked();
}

// Switching keeps streams flowing: towards direct, from_underlay is attached before the flag
// makes from_pod send straight to the underlay; towards device, the flag goes before the
// program. Until then each packet takes the path of the mode before.
void NodeDatapath::apply_overlay_mode_locked(uint16_t vxlan_port) {
    auto underlay = netlink::get_link(netlink_, netlink::LinkRef(options_.underlay_ifname));
    datapath::UnderlayConfig config;
    config.ifindex = underlay.index;
    config.vxlan_port = vxlan_port;
    std::string fallback;
    if (options_.overlay == datapath::OverlayMode::direct) {
        fallback = direct_mode_blocker(underlay);
        if (fallback.empty()) {
            config.mode = datapath::OverlayMode::direct;
        }
    }
    if (config.mode == datapath::OverlayMode::device) {
        config.ifindex = 0;  // status then shows no underlay attachment
        node_.set_underlay(config);
        node_.detach_underlay(underlay.name);
    } else {
        node_.set_underlay(config);
    }
    bool changed = config.mode != overlay_mode_ || underlay.index != underlay_ifindex_ ||
                   fallback != overlay_fallback_ || !applied_;
    overlay_mode_ = config.mode;
    underlay_ifindex_ = underlay.index;
    overlay_fallback_ = fallback;
    if (!changed) {
        return;
    }
    if (!fallback.empty()) {
        log_error("overlay: direct not possible (" + fallback +
                  "): falling back to device mode, every packet to another node through the "
                  "VXLAN device");
    } else {
        log_info("overlay " + overlay_text_locked() + ", VXLAN port " + std::to_string(vxlan_port));
    }
}

// Attaches from_underlay when the underlay allows it; "" on success, else why not.
std::string NodeDatapath::direct_mode_blocker(const netlink::Link& underlay) {
    if (!underlay.ethernet()) {
        return "underlay " + underlay.name + " is not Ethernet (link type " +
               std::to_string(underlay.type) + ")";
    }
    try {
        node_.attach_underlay(underlay.index, underlay.name);
        return "";
    } catch (const std::exception& e) {
        return "attaching from_underlay to " + underlay.name + " failed: " + e.what();
    }
}

std::string NodeDatapath::overlay_text_locked() const {
    if (overlay_mode_ == datapath::OverlayMode::direct) {
        return "direct on " + options_.underlay_ifname + " (ifindex " +
               std::to_string(underlay_ifindex_) + ")";
    }
    return overlay_fallback_.empty() ? "device" : "device (fallback: " + overlay_fallback_ + ")";
}

void NodeDatapath::reattach_recorded_pods() {
    std::error_code error;
    int count = 0;
    for (const auto& network :
         std::filesystem::directory_iterator(options_.plugin_state_root, error)) {
        count += plugin::reattach_recorded(
            network.path().string(), node_,
            [](const plugin::AttachmentRecord& record, const std::exception& e) {
                log_error("re-attaching " + record.container_id + " (" + record.host_ifname +
                          "): " + e.what());
            });
    }
    if (count > 0) {
        log_info("fresh maps: re-attached " + std::to_string(count) + " pod(s) from " +
                 options_.plugin_state_root);
    }
}

}  // namespace shuttle::agent
