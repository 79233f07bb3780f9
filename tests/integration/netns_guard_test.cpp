// netns::Guard, anonymous namespaces and per-namespace sysctls. Only anonymous namespaces
// are changed; the original namespace is only looked at.

#include <catch2/catch.hpp>
#include <cerrno>
#include <stdexcept>
#include <type_traits>

#include "netlink/link.h"
#include "netns/guard.h"
#include "netns/sysctl.h"

using namespace shuttle;
using namespace shuttle::netlink;

static_assert(!std::is_copy_constructible_v<netns::Guard>);
static_assert(!std::is_copy_assignable_v<netns::Guard>);
static_assert(!std::is_move_constructible_v<netns::Guard>);

namespace {

bool current_is(int fd) {
    return netns::same_namespace(netns::open_current().get(), fd);
}

}  // namespace

TEST_CASE("create_anonymous leaves the thread where it was and gives a different namespace") {
    UniqueFd original = netns::open_current();
    UniqueFd created = netns::create_anonymous();
    REQUIRE(current_is(original.get()));
    REQUIRE_FALSE(netns::same_namespace(original.get(), created.get()));
}

TEST_CASE("Guard enters a namespace and returns, also when an exception leaves the scope") {
    UniqueFd original = netns::open_current();
    UniqueFd target = netns::create_anonymous();
    try {
        netns::Guard guard(target.get());
        REQUIRE(current_is(target.get()));
        throw std::runtime_error("boom");
    } catch (const std::runtime_error&) {
        REQUIRE(current_is(original.get()));
    }
    REQUIRE(current_is(original.get()));
}

TEST_CASE("nested guards unwind in order, a guard by path works too") {
    UniqueFd original = netns::open_current();
    UniqueFd a = netns::create_anonymous();
    UniqueFd b = netns::create_anonymous();
    {
        netns::Guard into_a(a.get());
        {
            netns::Guard into_b("/proc/self/fd/" + std::to_string(b.get()));
            REQUIRE(current_is(b.get()));
        }
        REQUIRE(current_is(a.get()));
    }
    REQUIRE(current_is(original.get()));
}

TEST_CASE("Guard on a missing path throws and leaves the thread where it was") {
    UniqueFd original = netns::open_current();
    try {
        netns::Guard guard("/nonexistent/netns/x");
        FAIL("entering a missing namespace succeeded");
    } catch (const std::system_error& e) {
        REQUIRE(e.code().value() == ENOENT);
        REQUIRE_THAT(e.what(), Catch::Contains("open netns /nonexistent/netns/x"));
    }
    REQUIRE(current_is(original.get()));
}

TEST_CASE("a netlink socket opened inside a guard stays bound to that namespace") {
    UniqueFd scratch = netns::create_anonymous();
    std::optional<Socket> inside;
    {
        netns::Guard guard(scratch.get());
        inside.emplace();
        create_bridge(*inside, {"br-bound"});
    }
    // Back in the original namespace, the socket still talks to the scratch one...
    REQUIRE(get_link(*inside, "br-bound").kind == "bridge");
    delete_link(*inside, "br-bound");
    REQUIRE_FALSE(find_link(*inside, "br-bound"));
    // ...and a socket opened here does not see it (a read-only look).
    Socket here;
    create_bridge(*inside, {"br-bound2"});
    REQUIRE_FALSE(find_link(here, "br-bound2"));
}

TEST_CASE("Socket::in_netns binds to that namespace and leaves the thread where it was") {
    UniqueFd original = netns::open_current();
    UniqueFd scratch = netns::create_anonymous();
    Socket inside = Socket::in_netns(scratch.get());
    REQUIRE(current_is(original.get()));
    create_bridge(inside, {"br-in"});
    netns::Guard guard(scratch.get());
    Socket check;
    REQUIRE(get_link(check, "br-in").kind == "bridge");
}

TEST_CASE("interface sysctls are written and read in the thread's namespace") {
    netns::Scratch ns;
    Socket nl;
    create_veth(nl, {.local = {"sx.0"}, .peer = {"sx1"}});  // a dot, as in flannel.1

    netns::write_interface_sysctl("ipv4", "sx.0", "proxy_arp", "1");
    netns::write_interface_sysctl("ipv4", "sx.0", "arp_notify", "1");
    netns::write_interface_sysctl("ipv6", "sx.0", "accept_ra", "0");
    REQUIRE(netns::read_interface_sysctl("ipv4", "sx.0", "proxy_arp") == "1");
    REQUIRE(netns::read_interface_sysctl("ipv4", "sx.0", "arp_notify") == "1");
    REQUIRE(netns::read_interface_sysctl("ipv6", "sx.0", "accept_ra") == "0");
    REQUIRE(netns::read_interface_sysctl("ipv4", "sx1", "proxy_arp") == "0");

    netns::write_interface_sysctl("ipv4", "sx.0", "proxy_arp", "0");
    REQUIRE(netns::read_interface_sysctl("ipv4", "sx.0", "proxy_arp") == "0");
    REQUIRE_THROWS_WITH(netns::read_interface_sysctl("ipv4", "missing0", "proxy_arp"),
                        Catch::Contains("/proc/sys/net/ipv4/conf/missing0/proxy_arp"));
}

TEST_CASE("global net sysctls differ per namespace") {
    UniqueFd a = netns::create_anonymous();
    UniqueFd b = netns::create_anonymous();
    {
        netns::Guard in_a(a.get());
        netns::write_sysctl("net.ipv4.ip_forward", "0");
    }
    {
        netns::Guard in_b(b.get());
        netns::write_sysctl("net/ipv4/ip_forward", "1");
    }
    {
        netns::Guard in_a(a.get());
        REQUIRE(netns::read_sysctl("net.ipv4.ip_forward") == "0");
    }
    netns::Guard in_b(b.get());
    REQUIRE(netns::read_sysctl("net.ipv4.ip_forward") == "1");
}
