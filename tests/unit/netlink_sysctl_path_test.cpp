#include <catch2/catch.hpp>

#include "netns/sysctl.h"

using namespace shuttle::netns;

TEST_CASE("sysctl keys map to /proc/sys paths, interface names keep their dots") {
    REQUIRE(sysctl_path("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward");
    REQUIRE(sysctl_path("net/ipv4/conf/flannel.1/proxy_arp") ==
            "/proc/sys/net/ipv4/conf/flannel.1/proxy_arp");
    REQUIRE(interface_sysctl_path("ipv6", "flannel.1", "accept_ra") ==
            "/proc/sys/net/ipv6/conf/flannel.1/accept_ra");
}
