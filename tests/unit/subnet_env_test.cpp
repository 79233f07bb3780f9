#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "flannel/subnet_env.h"

using namespace shuttle::flannel;

TEST_CASE("subnet.env in flannel's format round-trips") {
    std::string text =
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\n"
        "FLANNEL_IPMASQ=true\n";
    auto env = parse_subnet_env(text);
    REQUIRE(env.network.str() == "10.244.0.0/16");
    REQUIRE(env.subnet.str() == "10.244.1.1/24");
    REQUIRE(env.subnet_network().str() == "10.244.1.0/24");
    REQUIRE(env.mtu == 1450);
    REQUIRE(env.ip_masq);
    REQUIRE(format_subnet_env(env) == text);
}

TEST_CASE("dual-stack and IPv6-only subnet.env in flannel's WriteSubnetFile order") {
    std::string dual =
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n"
        "FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\n"
        "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";
    auto env = parse_subnet_env(dual);
    REQUIRE(env.has_ipv4());
    REQUIRE(env.ipv6_network->str() == "fd00:10:244::/56");
    REQUIRE(env.ipv6_subnet->str() == "fd00:10:244:1::1/64");
    REQUIRE(env.ipv6_subnet_network()->str() == "fd00:10:244:1::/64");
    REQUIRE(format_subnet_env(env) == dual);

    std::string v6_only =
        "FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\n"
        "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n";
    env = parse_subnet_env(v6_only);
    REQUIRE_FALSE(env.has_ipv4());
    REQUIRE(format_subnet_env(env) == v6_only);

    REQUIRE_THROWS_WITH(parse_subnet_env("FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_MTU=1450\n"
                                         "FLANNEL_IPMASQ=false\n"),
                        "subnet.env is missing FLANNEL_IPV6_SUBNET");
    REQUIRE_THROWS_WITH(
        parse_subnet_env("FLANNEL_IPV6_NETWORK=10.244.0.0/16\nFLANNEL_IPV6_SUBNET=10.244.1.1/24\n"
                         "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n"),
        "subnet.env has a bad FLANNEL_IPV6_NETWORK: 10.244.0.0/16");
}

TEST_CASE("subnet.env errors name the key") {
    REQUIRE_THROWS_WITH(parse_subnet_env("FLANNEL_NETWORK=10.244.0.0/16\n"),
                        "subnet.env is missing FLANNEL_SUBNET");
    REQUIRE_THROWS_WITH(
        parse_subnet_env("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n"
                         "FLANNEL_MTU=abc\nFLANNEL_IPMASQ=false\n"),
        "subnet.env has a bad FLANNEL_MTU: abc");
}

TEST_CASE("subnet.env is written atomically and read back, a missing file is nullopt") {
    auto dir = std::filesystem::temp_directory_path() /
               ("shuttle-subnetenv-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto path = (dir / "subnet.env").string();
    REQUIRE_FALSE(read_subnet_env(path));
    SubnetEnv env{*shuttle::IpPrefix::parse("10.244.0.0/16"),
                  *shuttle::IpPrefix::parse("10.244.7.1/24"), 1450, false};
    write_subnet_env(path, env);
    auto back = read_subnet_env(path);
    REQUIRE(back);
    REQUIRE(back->subnet.str() == "10.244.7.1/24");
    REQUIRE(std::filesystem::status(path).permissions() ==
            (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
             std::filesystem::perms::group_read | std::filesystem::perms::others_read));
    std::filesystem::remove_all(dir);
}
