#include "agent/uninstall.h"

#include <cctype>
#include <optional>

#include "datapath/datapath.h"
#include "masquerade/masquerade.h"
#include "netlink/link.h"
#include "netlink/socket.h"
#include "overlay/vxlan_device.h"

namespace shuttle::agent {

namespace {

// The VNI of a device named shuttle.<digits>.
std::optional<uint32_t> shuttle_device_vni(const std::string& name) {
    const std::string prefix = "shuttle.";
    if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size() ||
        name.size() > prefix.size() + 8) {
        return std::nullopt;
    }
    uint32_t vni = 0;
    for (size_t i = prefix.size(); i < name.size(); ++i) {
        if (!std::isdigit(static_cast<unsigned char>(name[i]))) {
            return std::nullopt;
        }
        vni = vni * 10 + static_cast<uint32_t>(name[i] - '0');
    }
    return vni;
}

}  // namespace

std::vector<std::string> uninstall_node(const std::string& bpffs_root) {
    std::vector<std::string> done;
    datapath::Node::uninstall({bpffs_root, datapath::AttachMode::Auto});
    done.push_back("datapath: programs detached, pins under " + bpffs_root + " removed");
    netlink::Socket socket;
    for (const auto& link : netlink::list_links(socket)) {
        auto vni = shuttle_device_vni(link.name);
        if (vni && link.kind == "vxlan" && overlay::delete_vxlan_device(socket, *vni)) {
            done.push_back("deleted VXLAN device " + link.name);
        }
    }
    for (int family : {AF_INET, AF_INET6}) {
        if (masquerade::remove(family)) {
            done.push_back("deleted nftables table " + masquerade::table_ref(family));
        }
    }
    return done;
}

}  // namespace shuttle::agent
