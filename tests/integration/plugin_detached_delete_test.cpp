// DEL's veth delete that returns once the kernel has unlisted the device; in throwaway
// anonymous network namespaces only.

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cerrno>

#include "netlink/error.h"
#include "netlink/link.h"
#include "netns/guard.h"
#include "plugin/detached_delete.h"

using namespace shuttle;
using namespace shuttle::netlink;

TEST_CASE("detached delete: the pair is gone on return and its names are free again") {
    UniqueFd pod = netns::create_anonymous();
    netns::Scratch host;
    Socket nl;
    auto pod_nl = Socket::in_netns(pod.get());
    create_veth(nl, {.local = {"veth-host"}, .peer = {"eth0"}, .peer_netns_fd = pod.get()});
    int eth0 = get_link(pod_nl, "eth0").index;

    plugin::delete_link_detached(pod_nl, pod.get(), eth0, "delete link eth0");

    REQUIRE_FALSE(find_link(pod_nl, "eth0"));
    REQUIRE_FALSE(find_link(nl, "veth-host"));
    // a pod created right after its DEL gets the same names
    create_veth(nl, {.local = {"veth-host"}, .peer = {"eth0"}, .peer_netns_fd = pod.get()});
    REQUIRE(get_link(pod_nl, "eth0").kind == "veth");
}

TEST_CASE("detached delete: a missing link is ENODEV, and no child is left to reap") {
    UniqueFd pod = netns::create_anonymous();
    auto pod_nl = Socket::in_netns(pod.get());
    try {
        plugin::delete_link_detached(pod_nl, pod.get(), 4242, "delete link ifindex 4242");
        FAIL("no error");
    } catch (const netlink::Error& e) {
        REQUIRE(e.errno_value() == ENODEV);
    }
    create_veth(pod_nl, {.local = {"a"}, .peer = {"b"}});
    plugin::delete_link_detached(pod_nl, pod.get(), get_link(pod_nl, "a").index, "delete link a");
    REQUIRE_FALSE(find_link(pod_nl, "b"));
    // the deleter is a grandchild: this process has no child of its own to wait for
    REQUIRE(::waitpid(-1, nullptr, WNOHANG) == -1);
    REQUIRE(errno == ECHILD);
}

TEST_CASE("detached delete: a delete the kernel refuses is reported with its errno") {
    UniqueFd pod = netns::create_anonymous();
    auto pod_nl = Socket::in_netns(pod.get());
    int lo = get_link(pod_nl, "lo").index;
    try {
        plugin::delete_link_detached(pod_nl, pod.get(), lo, "delete link lo");
        FAIL("no error");
    } catch (const netlink::Error& e) {
        REQUIRE(e.errno_value() == EOPNOTSUPP);
    }
    REQUIRE(find_link(pod_nl, "lo"));
}
