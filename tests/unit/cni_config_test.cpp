#include <catch2/catch.hpp>

#include "cni/config.h"
#include "cni/error.h"

using namespace shuttle;
using namespace shuttle::cni;

namespace {

// Runs `f` and returns the cni::Error it throws (fails the test if it throws nothing).
template <typename F>
Error error_of(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    FAIL("no cni::Error thrown");
    return Error(0, "");
}

const char* kMinimal =
    R"({"cniVersion":"1.0.0","name":"net1","type":"shuttle","ipam":{"type":"host-local","subnet":"10.1.0.0/24"}})";

}  // namespace

TEST_CASE("a full config is parsed with every known key") {
    auto conf = parse_netconf(R"({
        "cniVersion":"1.1.0","name":"cbr0","type":"shuttle","mtu":1400,
        "ipam":{"type":"host-local","subnet":"10.1.0.0/24"},
        "dns":{"nameservers":["10.96.0.10"],"search":["svc.cluster.local"]},
        "ipMasq":true,"subnetFile":"/run/flannel/subnet.env","bpffsRoot":"/sys/fs/bpf/x",
        "attach":"tc","logFile":"/var/log/shuttle.log","dataDir":"/var/lib/cni/shuttle",
        "runtimeConfig":{"ips":["10.1.0.9/24"],"mac":"02:00:00:00:00:01"},
        "args":{"cni":{"ips":["10.1.0.10"]}},
        "somethingUnknown":{"x":1}})");
    REQUIRE(conf.cni_version == "1.1.0");
    REQUIRE(conf.name == "cbr0");
    REQUIRE(conf.mtu == 1400);
    REQUIRE(conf.ipam_type == "host-local");
    REQUIRE(conf.dns.nameservers == std::vector<std::string>{"10.96.0.10"});
    REQUIRE(conf.ip_masq);
    REQUIRE(conf.subnet_file == "/run/flannel/subnet.env");
    REQUIRE(conf.bpffs_root == "/sys/fs/bpf/x");
    REQUIRE(conf.attach == AttachMode::Tc);
    REQUIRE(conf.log_file == "/var/log/shuttle.log");
    REQUIRE(conf.data_dir == "/var/lib/cni/shuttle");
    REQUIRE(conf.requested_ips.size() == 2);
    REQUIRE(conf.requested_ips[0].str() == "10.1.0.9");
    REQUIRE(conf.requested_ips[1].str() == "10.1.0.10");
    REQUIRE(conf.mac->str() == "02:00:00:00:00:01");
}

TEST_CASE("defaults: bpffsRoot, attach auto, no masquerade") {
    auto conf = parse_netconf(kMinimal);
    REQUIRE(conf.bpffs_root == "/sys/fs/bpf/shuttle");
    REQUIRE(conf.attach == AttachMode::Auto);
    REQUIRE_FALSE(conf.ip_masq);
    REQUIRE_FALSE(conf.mtu);
    REQUIRE(conf.prev_result.is_null());
    REQUIRE_FALSE(conf.valid_attachments);
}

TEST_CASE("bad JSON is code 6") {
    auto e = error_of([] { parse_netconf("{not json"); });
    REQUIRE(e.code() == kDecodeFailure);
    REQUIRE(e.msg() == "failed to decode the network config");
    REQUIRE(error_of([] { parse_netconf("[1]"); }).code() == kDecodeFailure);
}

TEST_CASE("unsupported versions are code 1") {
    auto e = error_of([] {
        parse_netconf(R"({"cniVersion":"0.2.0","name":"n","type":"shuttle","ipam":{"type":"x"}})");
    });
    REQUIRE(e.code() == kIncompatibleVersion);
    REQUIRE(e.details() == "cniVersion 0.2.0 is not one of 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
}

TEST_CASE("wrong types, bad values and missing fields are code 7 naming the field") {
    struct Case {
        const char* json;
        const char* msg;
    };
    auto c = GENERATE(
        Case{R"({"name":"n","type":"shuttle","ipam":{"type":"x"}})",
             "invalid network config: cniVersion"},
        Case{R"({"cniVersion":"1.0.0","type":"shuttle","ipam":{"type":"x"}})",
             "invalid network config: name"},
        Case{R"({"cniVersion":"1.0.0","name":"-bad","type":"shuttle","ipam":{"type":"x"}})",
             "invalid network config: name"},
        Case{R"({"cniVersion":"1.0.0","name":"n","ipam":{"type":"x"}})",
             "invalid network config: type"},
        Case{
            R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","mtu":"1400","ipam":{"type":"x"}})",
            "invalid network config: mtu"},
        Case{R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","mtu":20,"ipam":{"type":"x"}})",
             "invalid network config: mtu"},
        Case{R"({"cniVersion":"1.0.0","name":"n","type":"shuttle"})",
             "invalid network config: ipam"},
        Case{R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","ipam":{}})",
             "invalid network config: ipam.type"},
        Case{
            R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","ipam":{"type":"x"},"ipMasq":"yes"})",
            "invalid network config: ipMasq"},
        Case{
            R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","ipam":{"type":"x"},"attach":"xdp"})",
            "invalid network config: attach"},
        Case{
            R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","ipam":{"type":"x"},"bpffsRoot":"rel"})",
            "invalid network config: bpffsRoot"},
        Case{
            R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","ipam":{"type":"x"},"subnetFile":5})",
            "invalid network config: subnetFile"},
        Case{
            R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","ipam":{"type":"x"},"dns":{"nameservers":"1.1.1.1"}})",
            "invalid network config: dns.nameservers"},
        Case{
            R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","ipam":{"type":"x"},"runtimeConfig":{"ips":["nope"]}})",
            "invalid network config: runtimeConfig.ips"},
        Case{
            R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","ipam":{"type":"x"},"runtimeConfig":{"ips":["fd00::5/64/1"]}})",
            "invalid network config: runtimeConfig.ips"},
        Case{
            R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","ipam":{"type":"x"},"runtimeConfig":{"mac":"zz"}})",
            "invalid network config: runtimeConfig.mac"},
        Case{
            R"({"cniVersion":"1.0.0","name":"n","type":"shuttle","ipam":{"type":"x"},"cni.dev/valid-attachments":{}})",
            "invalid network config: cni.dev/valid-attachments"});
    auto e = error_of([&] { parse_netconf(c.json); });
    REQUIRE(e.code() == kInvalidConfig);
    REQUIRE(e.msg() == c.msg);
}

TEST_CASE("subnetFile makes ipam optional") {
    auto conf = parse_netconf(
        R"({"cniVersion":"0.3.1","name":"cbr0","type":"shuttle","subnetFile":"/run/flannel/subnet.env"})");
    REQUIRE(conf.ipam.is_null());
    REQUIRE(conf.subnet_file == "/run/flannel/subnet.env");
}

TEST_CASE("GC's valid attachments are read") {
    auto conf = parse_netconf(
        R"({"cniVersion":"1.1.0","name":"n","type":"shuttle","ipam":{"type":"host-local"},
            "cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"}]})");
    REQUIRE(conf.valid_attachments->size() == 1);
    REQUIRE((*conf.valid_attachments)[0] == AttachmentId{"a", "eth0"});
}

TEST_CASE("the error version follows a readable input, else the current version") {
    REQUIRE(error_version(kMinimal) == "1.0.0");
    REQUIRE(error_version("{bad") == "1.1.0");
    REQUIRE(error_version(R"({"cniVersion":"9.9.9"})") == "1.1.0");
}

TEST_CASE("error objects have the spec's shape") {
    Error e(kInvalidConfig, "invalid network config: mtu", "must be an integer");
    REQUIRE(
        error_json(e, "0.3.1").dump() ==
        R"({"cniVersion":"0.3.1","code":7,"details":"must be an integer","msg":"invalid network config: mtu"})");
    REQUIRE(error_json(Error(kTryAgainLater, "x"), "1.1.0").dump() ==
            R"({"cniVersion":"1.1.0","code":11,"msg":"x"})");
}
