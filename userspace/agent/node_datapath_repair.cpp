// Keeping the node as applied: the periodic drift check and repair (device, addresses,
// programs, underlay attachment, masquerade, lost pins) and what /readyz reports.
#include <bpf/bpf.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "agent/log.h"
#include "agent/node_datapath.h"
#include "masquerade/masquerade.h"
#include "netlink/address.h"
#include "overlay/vxlan_device.h"
#include "overlay/vxlan_ipv6.h"

namespace shuttle::agent {

namespace {

uint32_t map_id(int fd) {
    bpf_map_info info{};
    uint32_t length = sizeof(info);
    return bpf_obj_get_info_by_fd(fd, &info, &length) == 0 ? info.id : 0;
}

// "" while the pins are the maps this agent writes; else why not (pins removed, bpffs
// unmounted, or fresh maps another ensure() pinned meanwhile).
std::string pins_lost(const datapath::Node& node, const std::string& bpffs_root) {
    try {
        auto pinned = datapath::Node::open_existing({bpffs_root, datapath::AttachMode::Auto});
        if (map_id(pinned.map_fd("endpoints")) == map_id(node.map_fd("endpoints")) &&
            map_id(pinned.map_fd("routes")) == map_id(node.map_fd("routes"))) {
            return "";
        }
        return "the pinned maps under " + bpffs_root + " are not the ones this agent loaded";
    } catch (const std::exception& e) {
        return std::string("pins lost (") + e.what() + ")";
    }
}

}  // namespace

std::string NodeDatapath::drift_locked() {
    if (!applied_) {
        return "";
    }
    auto device = overlay::find_vxlan_device(netlink_, static_cast<uint32_t>(applied_->config.vni));
    if (!device) {
        return "VXLAN device " + applied_->ifname + " is gone";
    }
    if (device->index != applied_->ifindex) {
        return "VXLAN device " + applied_->ifname + " was recreated (ifindex " +
               std::to_string(device->index) + ")";
    }
    if (device->mac != applied_->vtep_mac) {
        return "VXLAN device MAC changed to " + device->mac.str();
    }
    if (applied_->ipv6_subnet) {
        auto wanted = overlay::ipv6_device_address(*applied_->ipv6_subnet);
        auto addresses = netlink::list_addresses(netlink_, AF_INET6, device->index);
        if (std::none_of(addresses.begin(), addresses.end(),
                         [&](const netlink::Address& a) { return a.prefix == wanted; })) {
            return "IPv6 address " + wanted.str() + " missing on " + applied_->ifname;
        }
    }
    auto overlay = node_.overlay_attachment();
    if (!overlay || !overlay->attached) {
        return "overlay programs not attached to " + applied_->ifname +
               (overlay && !overlay->detail.empty() ? " (" + overlay->detail + ")" : "");
    }
    if (!applied_->config.enable_ipv4) {
        return "";  // IPv6 only: no direct mode, no IPv4 masquerade
    }
    if (overlay_mode_ == datapath::OverlayMode::direct) {
        auto underlay = node_.underlay_attachment();
        if (!underlay || !underlay->attached ||
            underlay->ifindex !=
                netlink::get_link(netlink_, netlink::LinkRef(options_.underlay_ifname)).index) {
            return "underlay program not attached to " + options_.underlay_ifname +
                   (underlay && !underlay->detail.empty() ? " (" + underlay->detail + ")" : "");
        }
    }
    if (options_.ip_masq &&
        !masquerade::is_installed({applied_->config.network, applied_->subnet.network()})) {
        return "masquerade table missing or changed";
    }
    return "";
}

// The pins went away under the running node (bpffs unmounted, files removed): pods attached
// by tc keep forwarding on the old maps, but TCX links (the overlay's, shaped pods') died with
// their last pin. Load again; fresh maps make apply_locked re-attach the recorded pods.
std::string NodeDatapath::reload_if_pins_lost_locked() {
    std::string lost = pins_lost(node_, options_.bpffs_root);
    if (lost.empty()) {
        return "";
    }
    node_ = datapath::Node::ensure({options_.bpffs_root, datapath::AttachMode::Auto});
    pods_reattached_ = !node_.maps_created();  // another ensure() made them: it re-attached
    log_info("datapath " + lost + ": loaded again, " +
             (node_.maps_created() ? "maps created" : "maps reused"));
    return lost;
}

void NodeDatapath::maintain() {
    std::lock_guard lock(mutex_);
    std::string drift;
    try {
        drift = reload_if_pins_lost_locked();
    } catch (const std::exception& e) {
        problem_ = std::string("datapath: ") + e.what();
        log_error("datapath reload failed: " + std::string(e.what()));
        return;
    }
    if (drift.empty() && !applied_ && wanted_) {
        drift = "lease not applied yet";
    } else if (drift.empty()) {
        try {
            drift = drift_locked();
        } catch (const std::exception& e) {
            drift = std::string("check failed: ") + e.what();
        }
    }
    if (drift.empty() || !wanted_) {
        write_routes_locked();
        repair_ipv6_peers_locked();
        return;
    }
    log_info("datapath drift: " + drift + "; repairing");
    try {
        apply_locked(wanted_->subnet, wanted_->vtep_mac, wanted_->config, wanted_->ipv6_subnet);
        routes_pending_ = true;
        write_routes_locked();
    } catch (const std::exception& e) {
        applied_.reset();
        problem_ = std::string("datapath: ") + e.what();
        log_error("datapath repair failed: " + std::string(e.what()));
    }
}

std::pair<bool, std::string> NodeDatapath::readiness() const {
    std::lock_guard lock(mutex_);
    if (!applied_) {
        return {false, problem_.empty() ? "datapath: lease not applied" : problem_};
    }
    if (!applied_->config.enable_ipv4) {
        return {routes_error_.empty(),
                routes_error_.empty()
                    ? "datapath: " + applied_->ifname + " (ifindex " +
                          std::to_string(applied_->ifindex) +
                          ", IPv6 only) with overlay programs, IPv6 " +
                          overlay::ipv6_device_address(*applied_->ipv6_subnet).str() + " with " +
                          std::to_string(ipv6_routes_) + " IPv6 route(s)"
                    : "datapath: " + routes_error_};
    }
    std::string text = "datapath: " + applied_->ifname + " (ifindex " +
                       std::to_string(applied_->ifindex) + ") with overlay programs, overlay " +
                       overlay_text_locked() + ", " + std::to_string(route_count_locked()) +
                       " route(s)";
    if (applied_->ipv6_subnet) {
        text += ", IPv6 " + overlay::ipv6_device_address(*applied_->ipv6_subnet).str() + " with " +
                std::to_string(ipv6_routes_) + " IPv6 route(s)";
    }
    if (options_.ip_masq) {
        text += ", masquerade on";
    }
    if (!routes_error_.empty()) {
        return {false, "datapath: " + routes_error_};
    }
    return {true, text};
}

}  // namespace shuttle::agent
