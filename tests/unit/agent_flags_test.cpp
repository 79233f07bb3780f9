#include <catch2/catch.hpp>

#include <cstdlib>

#include "agent/flags.h"

using namespace shuttle::agent;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string> parse(std::vector<std::string> args) {
    args.insert(args.begin(), "shuttled");
    std::vector<char*> argv;
    for (auto& arg : args) {
        argv.push_back(arg.data());
    }
    return parse_flags(static_cast<int>(argv.size()), argv.data());
}

// Sets an environment variable for one scope.
struct ScopedEnv {
    ScopedEnv(const char* name, const char* value) : name(name) { setenv(name, value, 1); }
    ~ScopedEnv() { unsetenv(name); }
    const char* name;
};

}  // namespace

TEST_CASE("agent flags: defaults as flanneld's, environment, command line wins") {
    auto defaults = parse({});
    REQUIRE(defaults.at("etcd-endpoints") == "http://127.0.0.1:4001,http://127.0.0.1:2379");
    REQUIRE(defaults.at("etcd-prefix") == "/coreos.com/network");
    REQUIRE(defaults.at("subnet-file") == "/run/flannel/subnet.env");
    REQUIRE(defaults.at("bpffs-root") == "/sys/fs/bpf/shuttle");
    REQUIRE(defaults.at("healthz-addr") == "127.0.0.1:9465");
    REQUIRE(defaults.at("public-ip").empty());

    REQUIRE(env_name("subnet-lease-renew-margin") == "SHUTTLED_SUBNET_LEASE_RENEW_MARGIN");
    ScopedEnv endpoints("SHUTTLED_ETCD_ENDPOINTS", "http://10.0.0.1:2379");
    ScopedEnv masq("SHUTTLED_IP_MASQ", "true");
    auto from_env = parse({});
    REQUIRE(from_env.at("etcd-endpoints") == "http://10.0.0.1:2379");
    REQUIRE(from_env.at("ip-masq") == "true");
    auto overridden = parse({"--etcd-endpoints", "http://a:1", "--ip-masq=false"});
    REQUIRE(overridden.at("etcd-endpoints") == "http://a:1");
    REQUIRE(overridden.at("ip-masq") == "false");
    REQUIRE(parse({"--ip-masq"}).at("ip-masq") == "true");
    REQUIRE(parse({"--public-ip=192.0.2.1"}).at("public-ip") == "192.0.2.1");
}

TEST_CASE("agent flags: unknown flags and missing values are errors") {
    REQUIRE_THROWS_WITH(parse({"--nope"}), "unknown flag --nope (see --help)");
    REQUIRE_THROWS_WITH(parse({"--iface"}), "--iface needs a value");
    REQUIRE_THROWS_WITH(parse({"stray"}), "unexpected argument: stray");
    REQUIRE(usage().find("SHUTTLED_STATIC_NODES") != std::string::npos);
}

TEST_CASE("agent flags: Go-style durations and booleans") {
    REQUIRE(parse_duration("x", "24h", 1) == 24h);
    REQUIRE(parse_duration("x", "1h30m", 1) == 90min);
    REQUIRE(parse_duration("x", "10s", 1) == 10s);
    REQUIRE(parse_duration("x", "2500ms", 1) == 2s);
    REQUIRE(parse_duration("x", "60", 60) == 1h);  // flannel's renew margin is in minutes
    REQUIRE(parse_duration("x", "15", 1) == 15s);
    REQUIRE_THROWS_WITH(parse_duration("subnet-lease-ttl", "5x", 1),
                        Catch::Matchers::StartsWith("--subnet-lease-ttl: \"5x\""));
    REQUIRE_THROWS(parse_duration("x", "", 1));
    REQUIRE_THROWS(parse_duration("x", "h", 1));
    REQUIRE_THROWS(parse_duration("x", "-5s", 1));
    REQUIRE_THROWS(parse_duration("x", "-5", 60));
    REQUIRE(parse_bool("x", "true"));
    REQUIRE_FALSE(parse_bool("x", "0"));
    REQUIRE_THROWS(parse_bool("x", "yes"));
}
