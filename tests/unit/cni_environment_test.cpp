#include <catch2/catch.hpp>

#include <map>

#include "cni/environment.h"
#include "cni/error.h"
#include "cni/version.h"

using namespace shuttle::cni;

namespace {

GetEnv from(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
}

std::string error_msg(const GetEnv& env) {
    try {
        read_environment(env);
    } catch (const Error& e) {
        REQUIRE(e.code() == kInvalidEnvironment);
        return e.msg() + (e.details().empty() ? "" : " | " + e.details());
    }
    FAIL("no error");
    return "";
}

}  // namespace

TEST_CASE("ADD needs container ID, netns, ifname and path") {
    std::map<std::string, std::string> vars = {{"CNI_COMMAND", "ADD"},
                                               {"CNI_CONTAINERID", "abc"},
                                               {"CNI_NETNS", "/run/netns/x"},
                                               {"CNI_IFNAME", "eth0"},
                                               {"CNI_PATH", "/opt/cni/bin"}};
    auto env = read_environment(from(vars));
    REQUIRE(env.command == Command::Add);
    REQUIRE(env.container_id == "abc");
    for (auto name : {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"}) {
        auto missing = vars;
        missing.erase(name);
        REQUIRE(error_msg(from(missing)) ==
                std::string("required environment variable ") + name + " is missing");
    }
}

TEST_CASE("DEL accepts an empty CNI_NETNS") {
    auto env = read_environment(from({{"CNI_COMMAND", "DEL"},
                                      {"CNI_CONTAINERID", "abc"},
                                      {"CNI_IFNAME", "eth0"},
                                      {"CNI_PATH", "/opt/cni/bin"}}));
    REQUIRE(env.command == Command::Del);
    REQUIRE(env.netns.empty());
}

TEST_CASE("malformed variables are code 4") {
    REQUIRE(error_msg(from({{"CNI_COMMAND", "FROB"}})) == "unknown CNI_COMMAND | FROB");
    REQUIRE(error_msg(from({})) == "required environment variable CNI_COMMAND is missing");
    REQUIRE(error_msg(from({{"CNI_COMMAND", "DEL"},
                            {"CNI_CONTAINERID", "_x"},
                            {"CNI_IFNAME", "eth0"},
                            {"CNI_PATH", "/p"}})) ==
            "invalid CNI_CONTAINERID | \"_x\" must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$");
    REQUIRE(error_msg(from({{"CNI_COMMAND", "DEL"},
                            {"CNI_CONTAINERID", "x"},
                            {"CNI_IFNAME", "a-very-long-interface"},
                            {"CNI_PATH", "/p"}})) ==
            "invalid CNI_IFNAME | \"a-very-long-interface\" is not a valid interface name");
    REQUIRE(error_msg(from({{"CNI_COMMAND", "GC"}})) ==
            "required environment variable CNI_PATH is missing");
}

TEST_CASE("VERSION needs nothing else") {
    REQUIRE(read_environment(from({{"CNI_COMMAND", "VERSION"}})).command == Command::Version);
}

TEST_CASE("CNI_ARGS: known keys typed, unknown refused unless IgnoreUnknown") {
    auto args = parse_cni_args(
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-1;"
        "K8S_POD_INFRA_CONTAINER_ID=abc;FOO=bar;IP=10.1.0.7,10.1.0.8/24");
    REQUIRE(args.ignore_unknown);
    REQUIRE(args.pod_namespace == "kube-system");
    REQUIRE(args.pod_name == "coredns-1");
    REQUIRE(args.pod_infra_container_id == "abc");
    REQUIRE(args.ips.size() == 2);
    REQUIRE(args.ips[1].str() == "10.1.0.8");
    REQUIRE(args.all.at("FOO") == "bar");

    REQUIRE_THROWS_AS(parse_cni_args("FOO=bar"), Error);
    REQUIRE_THROWS_WITH(parse_cni_args("FOO=bar"),
                        "invalid CNI_ARGS: unknown key FOO=bar (set IgnoreUnknown=1 to allow)");
    REQUIRE_THROWS_WITH(parse_cni_args("novalue"),
                        "invalid CNI_ARGS: \"novalue\" is not KEY=VALUE");
    REQUIRE_THROWS_WITH(parse_cni_args("IP=1.2.3"),
                        "invalid CNI_ARGS: IP=1.2.3: not an IP address");
    // an address/length as host-local takes it; a malformed length is no address
    REQUIRE(parse_cni_args("IP=fd00:99::5/64").ips.at(0).str() == "fd00:99::5");
    for (const char* bad : {"IP=fd00:99::5/64/1", "IP=fd00:99::5/abc", "IP=fd00:99::5/129",
                            "IP=10.1.0.7/33", "IP=10.1.0.7/"}) {
        REQUIRE_THROWS_AS(parse_cni_args(bad), Error);
    }
    REQUIRE(parse_cni_args("").all.empty());
}

TEST_CASE("versions compare numerically and VERSION lists 0.3.0 to 1.1.0") {
    REQUIRE(compare_versions("0.3.1", "0.4.0") < 0);
    REQUIRE(compare_versions("1.10.0", "1.9.0") > 0);
    REQUIRE(compare_versions("1.0.0", "1.0.0") == 0);
    REQUIRE_THROWS_AS(compare_versions("1.x", "1.0.0"), Error);
    REQUIRE(
        version_info().dump() ==
        R"({"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]})");
}
