// The datapath module on a simulated node (root): a private mount namespace with its own
// bpffs, the test thread in a fresh network namespace as the node, and "pods" as named
// network namespaces wired with veths by hand. Nothing touches the root namespace.
#include <bpf/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "common/system_error.h"
#include "common/unique_fd.h"
#include "datapath/abi_values.h"
#include "datapath/attach.h"
#include "datapath/datapath.h"
#include "private_mount_namespace.h"
#include "shell_commands.h"
#include "datapath/map_access.h"
#include "other_build.h"
#include "shuttle.skel.h"
#include "address_literals.h"

namespace dp = shuttle::datapath;
using shuttle::IpAddress;
using shuttle::IpPrefix;
using shuttle::MacAddress;
using shuttle::test::must;
using shuttle::test::output_of;
using shuttle::test::sh;

namespace {

std::string unique(const std::string& what) {
    static int counter = 0;
    return "shdp" + std::to_string(getpid()) + what + std::to_string(counter++);
}

// A bpffs of our own, in a mount namespace of our own (entered once per process), so no pin
// ever lands under the host's /sys/fs/bpf.
class PrivateBpffs {
  public:
    PrivateBpffs() {
        shuttle::test::enter_private_mount_namespace();
        char tmpl[] = "/tmp/shuttle-bpffs-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        dir_ = tmpl;
        mount_bpffs();
    }
    ~PrivateBpffs() {
        umount2(dir_.c_str(), MNT_DETACH);
        rmdir(dir_.c_str());
    }
    // Loses every pin, as a remount of /sys/fs/bpf would.
    void remount() {
        REQUIRE(umount2(dir_.c_str(), MNT_DETACH) == 0);
        mount_bpffs();
    }
    std::string root() const { return dir_ + "/shuttle"; }

  private:
    void mount_bpffs() { REQUIRE(mount("bpf", dir_.c_str(), "bpf", 0, nullptr) == 0); }
    std::string dir_;
};

// The test thread moves into a fresh network namespace: the node. Restored on destruction.
class NodeNetns {
  public:
    NodeNetns() : original_(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
        REQUIRE(original_.valid());
        REQUIRE(unshare(CLONE_NEWNET) == 0);
        must("ip link set lo up");
    }
    ~NodeNetns() { setns(original_.get(), CLONE_NEWNET); }

  private:
    shuttle::UniqueFd original_;
};

// A pod: a named netns whose eth0 is the peer of a host veth in the node, addressed the
// way the CNI plugin does it (pod /24 with a default route via the gateway; host side has
// the gateway as /32 and a /32 route to the pod, the fallback path).
class Pod {
  public:
    Pod(int last_octet)
        : netns_(unique("p")),
          host_ifname_(unique("v")),
          ip_("10.244.1." + std::to_string(last_octet)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "02:00:00:00:01:%02x", last_octet);
        pod_mac_ = buf;
        std::snprintf(buf, sizeof buf, "02:00:00:00:0a:%02x", last_octet);
        host_mac_ = buf;
        must("ip netns add " + netns_);
        must("ip link add " + host_ifname_ + " address " + host_mac_ +
             " type veth peer name eth0 address " + pod_mac_ + " netns " + netns_);
        must("ip -n " + netns_ + " link set lo up");
        must("ip -n " + netns_ + " addr add " + ip_ + "/24 dev eth0");
        must("ip -n " + netns_ + " link set eth0 up");
        must("ip -n " + netns_ + " route add default via 10.244.1.1 dev eth0");
        must("ip link set " + host_ifname_ + " up");
        must("ip addr add 10.244.1.1/32 dev " + host_ifname_);
        must("ip route add " + ip_ + "/32 dev " + host_ifname_);
    }
    ~Pod() { sh("ip netns del " + netns_); }

    dp::Endpoint endpoint() const {
        dp::Endpoint ep;
        ep.ip = *IpAddress::parse(ip_);
        ep.pod_mac = mac(pod_mac_);
        ep.host_mac = mac(host_mac_);
        ep.host_ifname = host_ifname_;
        ep.host_ifindex = static_cast<int>(if_nametoindex(host_ifname_.c_str()));
        ep.container_id = "c-" + netns_;
        ep.ifname = "eth0";
        ep.pod_namespace = "default";
        ep.pod_name = "pod-" + netns_;
        return ep;
    }
    std::string exec(const std::string& command) const {
        return "ip netns exec " + netns_ + " " + command;
    }
    const std::string& ip() const { return ip_; }
    const std::string& host_ifname() const { return host_ifname_; }

  private:
    std::string netns_, host_ifname_, ip_, pod_mac_, host_mac_;
};

dp::NodeConfig node_config() {
    dp::NodeConfig cfg;
    cfg.node_subnet = *IpPrefix::parse("10.244.1.0/24");
    cfg.gateway = *IpAddress::parse("10.244.1.1");
    cfg.cluster_network = *IpPrefix::parse("10.244.0.0/16");
    return cfg;
}

// ensure(), the node config and the pods attached: where most tests start.
dp::Node node_with(const std::string& root, dp::AttachMode mode,
                   std::initializer_list<const Pod*> pods) {
    dp::Node node = dp::Node::ensure({root, mode});
    node.set_config(node_config());
    for (const Pod* pod : pods) {
        node.attach(pod->endpoint());
    }
    return node;
}

uint64_t counted(const dp::Node& node, uint32_t verdict, uint32_t reason) {
    for (const auto& c : dp::read_stats(node.map_fd("stats"))) {
        if (c.verdict == verdict && c.reason == reason) {
            return c.packets;
        }
    }
    return 0;
}

bool pings(const Pod& from, const Pod& to, int count = 3) {
    return sh(from.exec("ping -c " + std::to_string(count) + " -i 0.2 -W 1 " + to.ip())) == 0;
}

// How many of `count` pings from `from` to `to` were answered. ping succeeds on one reply of
// several, and drops a reply later than its -W: 5 s here, for a busy machine.
int ping_replies(const Pod& from, const Pod& to, int count) {
    std::string received =
        output_of(from.exec("ping -c " + std::to_string(count) + " -i 0.2 -W 5 " + to.ip()) +
                  " 2>/dev/null | sed -n 's/.* \\([0-9]*\\) received.*/\\1/p'");
    return received.empty() ? 0 : std::stoi(received);
}

// A TCP transfer of `bytes` from `client` to a one-shot iperf3 server in `server`, listening
// on `port`, reached at `address:port` (default: the server pod itself).
bool tcp_transfer(const Pod& client, const Pod& server, const std::string& bytes,
                  const std::string& port = "5201", std::string address = "",
                  std::string client_port = "") {
    if (address.empty()) {
        address = server.ip();
    }
    if (client_port.empty()) {
        client_port = port;
    }
    std::string pidfile = "/tmp/" + unique("iperf") + ".pid";
    if (sh(server.exec("iperf3 -s -1 -D -B " + server.ip() + " -p " + port + " -I " + pidfile)) !=
        0) {
        return false;
    }
    usleep(300 * 1000);
    bool ok = sh(client.exec("timeout 30 iperf3 -c " + address + " -p " + client_port + " -n " +
                             bytes)) == 0;
    sh("test -f " + pidfile + " && kill $(cat " + pidfile + ") ; rm -f " + pidfile);
    return ok;
}

void disable_forwarding() {
    must("sysctl -w net.ipv4.ip_forward=0");
}

// An iperf3 stream from one pod to another in the background, reported every `interval` s.
class BackgroundStream {
  public:
    BackgroundStream(const Pod& client, const Pod& server, int seconds, double interval)
        : tag_(unique("up")),
          pidfile_("/tmp/" + tag_ + ".pid"),
          rcfile_("/tmp/" + tag_ + ".rc"),
          jsonfile_("/tmp/" + tag_ + ".json") {
        must(server.exec("iperf3 -s -1 -D -B " + server.ip() + " -I " + pidfile_));
        usleep(300 * 1000);
        must("(" +
             client.exec("timeout 30 iperf3 -J -i " + std::to_string(interval) + " -c " +
                         server.ip() + " -t " + std::to_string(seconds)) +
             " >" + jsonfile_ + " 2>/dev/null; echo $? > " + rcfile_ + ") &");
        usleep(500 * 1000);
    }
    ~BackgroundStream() {
        sh("test -f " + pidfile_ + " && kill $(cat " + pidfile_ + "); rm -f " + pidfile_ + " " +
           rcfile_ + " " + jsonfile_);
    }
    // Waits for the client: its exit status ("" if it never ended) and its byte counts.
    std::pair<std::string, std::vector<uint64_t>> finish() {
        std::string rc;
        for (int i = 0; i < 150 && rc.empty(); ++i) {
            usleep(100 * 1000);
            rc = output_of("cat " + rcfile_ + " 2>/dev/null");
        }
        std::vector<uint64_t> bytes;
        auto report = nlohmann::json::parse(output_of("cat " + jsonfile_), nullptr, false);
        if (report.is_object() && report.contains("intervals")) {
            for (const auto& interval : report["intervals"]) {
                bytes.push_back(interval["sum"]["bytes"].get<uint64_t>());
            }
        }
        return {rc, bytes};
    }

  private:
    std::string tag_, pidfile_, rcfile_, jsonfile_;
};

}  // namespace

// [serial]: in parallel runs pings between the two pods get lost (load 13: fewer redirects
// than pings sent; ctest -j3 at load 13: 2 of 5 pings answered within 5 s in TCX mode, so
// lost, not late), while alone it passes (3 of 3 at load 12). The cause is not known yet, so
// it runs alone until it is; the count is of the replies, as ping succeeds on one of several.
TEST_CASE("pods on one node talk through the eBPF path, in both attach modes",
          "[datapath][serial]") {
    auto mode = GENERATE(dp::AttachMode::Tcx, dp::AttachMode::Tc);
    INFO("attach mode " << dp::to_string(mode));
    PrivateBpffs bpffs;
    NodeNetns node_netns;
    Pod a(2), b(3);
    disable_forwarding();
    REQUIRE_FALSE(pings(a, b, 1));  // the host path is closed: no forwarding

    dp::Node node = dp::Node::ensure({bpffs.root(), mode});
    CHECK(node.programs_loaded());
    CHECK(node.maps_created());
    node.set_config(node_config());
    node.attach(a.endpoint());
    node.attach(b.endpoint());
    CHECK(node.check(a.endpoint()) == "");
    CHECK(node.check(b.endpoint()) == "");
    for (const auto& att : node.attachments()) {
        CHECK(att.attached);
        CHECK(att.mode == mode);
    }

    const int pings_sent = 5;
    REQUIRE(ping_replies(a, b, pings_sent) == pings_sent);
    // Each echo and each reply went pod -> BPF -> pod.
    CHECK(counted(node, SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_LOCAL) >= 2 * pings_sent);
    CHECK(counted(node, SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ARP_REPLY) >= 1);

    uint64_t before = counted(node, SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_LOCAL);
    REQUIRE(tcp_transfer(a, b, "4M"));
    // 4 MiB needs at least ~90 segments of 64 KiB (GSO) one way plus ACKs back.
    CHECK(counted(node, SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_LOCAL) - before >= 64);

    // Detached, nothing carries the traffic any more: proof it was the eBPF path.
    node.detach(a.host_ifname(), a.endpoint().ip);
    CHECK(node.check(a.endpoint()) != "");
    CHECK_FALSE(pings(a, b, 1));
    node.detach(a.host_ifname(), a.endpoint().ip);  // idempotent
    node.attach(a.endpoint());
    CHECK(pings(a, b, 2));
}

TEST_CASE("ensure is cheap when current and replaces the program through every link",
          "[datapath]") {
    auto mode = GENERATE(dp::AttachMode::Tcx, dp::AttachMode::Tc);
    INFO("attach mode " << dp::to_string(mode));
    PrivateBpffs bpffs;
    NodeNetns node_netns;
    Pod a(2), b(3);
    disable_forwarding();
    node_with(bpffs.root(), mode, {&a, &b});
    dp::Node again = dp::Node::ensure({bpffs.root(), mode});
    CHECK_FALSE(again.programs_loaded());
    CHECK_FALSE(again.maps_created());
    CHECK(again.pinned_build_hash() == dp::Node::build_hash());
    uint32_t old_prog = 0;
    {
        bpf_prog_info info{};
        uint32_t len = sizeof info;
        REQUIRE(bpf_obj_get_info_by_fd(again.program_fd(), &info, &len) == 0);
        old_prog = info.id;
    }

    // Pretend the pins came from another build: the next ensure() must load and swap.
    shuttle_loader_state stale{};
    stale.build_hash = 42;
    stale.layout_version = SHUTTLE_LAYOUT_VERSION;
    dp::update(again.map_fd("loader"), uint32_t{0}, stale);
    dp::Node upgraded = dp::Node::ensure({bpffs.root(), mode});
    CHECK(upgraded.programs_loaded());
    CHECK_FALSE(upgraded.maps_created());  // state survives an upgrade
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    REQUIRE(bpf_obj_get_info_by_fd(upgraded.program_fd(), &info, &len) == 0);
    CHECK(info.id != old_prog);
    // check() compares with the newly pinned program: every attachment was swapped.
    CHECK(upgraded.check(a.endpoint()) == "");
    CHECK(upgraded.check(b.endpoint()) == "");
    CHECK(pings(a, b, 2));
}

TEST_CASE("lost pins: ensure rebuilds, re-attaching brings traffic back", "[datapath]") {
    PrivateBpffs bpffs;
    NodeNetns node_netns;
    Pod a(2), b(3);
    disable_forwarding();
    {
        dp::Node node = dp::Node::ensure({bpffs.root(), dp::AttachMode::Tcx});
        node.set_config(node_config());
        node.attach(a.endpoint());
        node.attach(b.endpoint());
        REQUIRE(pings(a, b, 1));
    }
    bpffs.remount();  // TCX links die with their pins (their release is deferred a little)
    bool stopped = false;
    for (int i = 0; i < 50 && !stopped; ++i) {  // up to ~5 s for the deferred release
        stopped = !pings(a, b, 1);
        if (!stopped) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    CHECK(stopped);
    dp::Node node = dp::Node::ensure({bpffs.root(), dp::AttachMode::Tcx});
    REQUIRE(node.maps_created());
    node.set_config(node_config());
    node.attach(a.endpoint());
    node.attach(b.endpoint());
    CHECK(pings(a, b, 1));
}

TEST_CASE("a pinned map with another layout is refused, not adopted", "[datapath]") {
    PrivateBpffs bpffs;
    std::string maps = bpffs.root() + "/v" + std::to_string(SHUTTLE_LAYOUT_VERSION) + "/maps";
    must("mkdir -p " + maps);
    int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "endpoints", 4, 8, 16, nullptr);
    REQUIRE(fd >= 0);
    shuttle::UniqueFd owned(fd);
    REQUIRE(bpf_obj_pin(fd, (maps + "/endpoints").c_str()) == 0);
    REQUIRE_THROWS_WITH(dp::Node::ensure({bpffs.root(), dp::AttachMode::Tcx}),
                        Catch::Contains("layout"));
}

TEST_CASE("a pin root of another user, or that others may write, is refused", "[datapath]") {
    PrivateBpffs bpffs;
    const std::string root = bpffs.root();
    must("mkdir -m 0777 " + root);  // as a local user could leave it on a 1777 bpffs
    REQUIRE_THROWS_WITH(
        dp::Node::ensure({root, dp::AttachMode::Tc}),
        Catch::Contains(root + " has mode 0777") && Catch::Contains("chmod 0700 " + root));
    must("chmod 1777 " + root);  // sticky: nobody removes a pin that is not theirs
    CHECK_NOTHROW(dp::Node::ensure({root, dp::AttachMode::Tc}));
    must("chown 65534 " + root);
    REQUIRE_THROWS_WITH(dp::Node::ensure({root, dp::AttachMode::Tc}),
                        Catch::Contains(root + " belongs to uid 65534"));
}

TEST_CASE("a root outside bpffs is refused with a clear message", "[datapath]") {
    char tmpl[] = "/tmp/shuttle-notbpf-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    std::string dir = tmpl;
    REQUIRE_THROWS_WITH(dp::Node::ensure({dir + "/shuttle", dp::AttachMode::Auto}),
                        Catch::Contains("not on a bpf filesystem") &&
                            Catch::Contains("run: mount -t bpf bpf " + dir));
    sh("rmdir " + dir + "/shuttle " + dir);
}

TEST_CASE("open_existing without pins says so", "[datapath]") {
    PrivateBpffs bpffs;
    REQUIRE_THROWS_WITH(dp::Node::open_existing({bpffs.root(), dp::AttachMode::Auto}),
                        Catch::Contains("no shuttle datapath pinned"));
}

TEST_CASE("ensure pins every map of the BPF object, each with BTF", "[datapath]") {
    PrivateBpffs bpffs;
    dp::Node node = dp::Node::ensure({bpffs.root(), dp::AttachMode::Auto});
    shuttle_bpf* skel = shuttle_bpf__open();
    REQUIRE(skel);
    std::unique_ptr<shuttle_bpf, void (*)(shuttle_bpf*)> owned(skel, shuttle_bpf__destroy);
    bpf_map* map;
    int count = 0;
    bpf_object__for_each_map(map, skel->obj) {
        if (bpf_map__is_internal(map)) {
            continue;
        }
        std::string name = bpf_map__name(map);
        INFO(name);
        int fd = node.map_fd(name);  // throws for a map the module does not know
        bpf_map_info info{};
        uint32_t len = sizeof info;
        REQUIRE(bpf_obj_get_info_by_fd(fd, &info, &len) == 0);
        if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF) {  // a ring buffer has no key/value
            CHECK(info.btf_id != 0);
            CHECK(info.btf_value_type_id != 0);  // bpftool map dump prints named fields
        }
        ++count;
    }
    CHECK(count == 17);  // 10 IPv4 and overlay maps, 7 IPv6 ones
}

namespace {

// Runs a command, returning its stdout (and stderr when asked) and exit status.
std::pair<int, std::string> capture(const std::string& command) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) {
        out.append(buf, n);
    }
    int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string shuttlectl(const std::string& root, const std::string& args) {
    return std::string(SHUTTLE_BIN_DIR) + "/shuttlectl --bpffs-root " + root + " " + args;
}

}  // namespace

TEST_CASE("shuttlectl reads endpoints, stats, config and status from the pins", "[datapath]") {
    auto mode = GENERATE(dp::AttachMode::Tcx, dp::AttachMode::Tc);
    PrivateBpffs bpffs;
    NodeNetns node_netns;
    Pod a(2), b(3);
    dp::Node node = node_with(bpffs.root(), mode, {&a, &b});
    REQUIRE(pings(a, b, 2));

    auto [rc, text] = capture(shuttlectl(bpffs.root(), "--json endpoints"));
    REQUIRE(rc == 0);
    auto endpoints = nlohmann::json::parse(text);
    REQUIRE(endpoints.size() == 2);
    for (const auto& ep : endpoints) {
        const Pod& pod = ep["ip"] == a.ip() ? a : b;
        CHECK(ep["pod"] == "default/" + pod.endpoint().pod_name);
        CHECK(ep["host_ifname"] == pod.host_ifname());
        CHECK(ep["pod_mac"] == pod.endpoint().pod_mac.str());
    }

    std::tie(rc, text) = capture(shuttlectl(bpffs.root(), "--json stats"));
    REQUIRE(rc == 0);
    bool saw_local = false;
    for (const auto& row : nlohmann::json::parse(text)) {
        if (row["verdict"] == "redirect" && row["reason"] == "local") {
            saw_local = row["packets"].get<uint64_t>() >= 4;
        }
    }
    CHECK(saw_local);

    std::tie(rc, text) = capture(shuttlectl(bpffs.root(), "--json config"));
    REQUIRE(rc == 0);
    auto config = nlohmann::json::parse(text);
    CHECK(config["gateway"] == "10.244.1.1");
    CHECK(config["cluster_network"] == "10.244.0.0/16");

    std::tie(rc, text) = capture(shuttlectl(bpffs.root(), "--json status"));
    REQUIRE(rc == 0);
    auto status = nlohmann::json::parse(text);
    CHECK(status["current"] == true);
    REQUIRE(status["attachments"].size() == 2);
    for (const auto& att : status["attachments"]) {
        CHECK(att["attached"] == true);
        CHECK(att["mode"] == dp::to_string(mode));
    }

    std::tie(rc, text) = capture(shuttlectl(bpffs.root(), "status"));
    CHECK(rc == 0);
    CHECK_THAT(text, Catch::Contains(a.host_ifname()) && Catch::Contains("ATTACHED"));
    std::tie(rc, text) = capture(shuttlectl(bpffs.root(), "endpoints"));
    CHECK_THAT(text, Catch::Contains("default/" + a.endpoint().pod_name));

    // A TTL-1 ping towards a local pod is dropped; monitor shows it from the ring buffer.
    sh(a.exec("ping -c 1 -t 1 -W 1 " + b.ip()));
    std::tie(rc, text) = capture(shuttlectl(bpffs.root(), "--json --timeout 500 monitor"));
    CHECK(rc == 0);
    CHECK_THAT(text, Catch::Contains("\"reason\":\"ttl-expired\"") &&
                         Catch::Contains("\"dst\":\"" + b.ip() + "\""));

    // BTF makes bpftool print named fields.
    std::string maps = bpffs.root() + "/v" + std::to_string(SHUTTLE_LAYOUT_VERSION) + "/maps/";
    std::tie(rc, text) = capture("bpftool map dump pinned " + maps + "endpoints");
    CHECK(rc == 0);
    CHECK_THAT(text, Catch::Contains("\"pod_mac\"") && Catch::Contains("\"ifindex\""));
    std::tie(rc, text) = capture("bpftool map dump pinned " + maps + "node_config");
    CHECK_THAT(text, Catch::Contains("\"cluster_network\"") && Catch::Contains("\"vtep_mac\""));
}

TEST_CASE("shuttlectl explains missing pins and missing privileges", "[datapath]") {
    PrivateBpffs bpffs;
    auto [rc, text] = capture(shuttlectl(bpffs.root(), "status 2>&1"));
    CHECK(rc == 1);
    CHECK_THAT(text, Catch::Contains("no shuttle datapath pinned"));

    dp::Node node = dp::Node::ensure({bpffs.root(), dp::AttachMode::Auto});
    std::tie(rc, text) = capture("setpriv --reuid=65534 --regid=65534 --clear-groups " +
                                 shuttlectl(bpffs.root(), "stats 2>&1"));
    CHECK(rc == 1);
    CHECK_THAT(text, Catch::Contains("needs root"));
}

TEST_CASE("Services: replies of DNATed flows take the stack path, also hairpin", "[datapath]") {
    auto mode = GENERATE(dp::AttachMode::Tcx, dp::AttachMode::Tc);
    INFO("attach mode " << dp::to_string(mode));
    PrivateBpffs bpffs;
    NodeNetns node_netns;
    Pod client(2), backend(3);
    must("sysctl -w net.ipv4.ip_forward=1");  // Services are the host stack's job
    // kube-proxy (iptables mode) style: ClusterIP 10.96.0.10:80 -> the backend pod's :8080,
    // and masquerade for the hairpin case (a pod reaching itself through its Service).
    must(
        "iptables -t nat -A PREROUTING -d 10.96.0.10/32 -p tcp --dport 80 -j DNAT "
        "--to-destination 10.244.1.3:8080");
    must(
        "iptables -t nat -A PREROUTING -d 10.96.0.11/32 -p tcp --dport 80 -j DNAT "
        "--to-destination 10.244.1.2:8080");
    must("iptables -t nat -A POSTROUTING -s 10.244.1.2/32 -d 10.244.1.2/32 -j MASQUERADE");

    dp::Node node = dp::Node::ensure({bpffs.root(), mode});
    node.set_config(node_config());
    node.attach(client.endpoint());
    node.attach(backend.endpoint());

    CHECK(tcp_transfer(client, backend, "1M", "8080", "10.96.0.10", "80"));
    CHECK(counted(node, SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NAT_FLOW) > 0);
    CHECK(tcp_transfer(client, client, "1M", "8080", "10.96.0.11", "80"));  // hairpin

    // Plain pod-to-pod keeps the fast path next to the Service flow.
    uint64_t before = counted(node, SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_LOCAL);
    CHECK(tcp_transfer(client, backend, "1M"));
    CHECK(counted(node, SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_LOCAL) > before);
}

// [serial]: every 0.25 s of the stream must move data, which holds only on a quiet machine.
TEST_CASE("replacing the programs does not break an established TCP stream", "[datapath][serial]") {
    auto mode = GENERATE(dp::AttachMode::Tcx, dp::AttachMode::Tc);
    INFO("attach mode " << dp::to_string(mode));
    PrivateBpffs bpffs;
    NodeNetns node_netns;
    Pod a(2), b(3);
    disable_forwarding();  // only the eBPF path can carry the stream
    node_with(bpffs.root(), mode, {&a, &b});
    BackgroundStream stream(a, b, 3, 0.25);
    uint32_t first_prog = 0;
    for (int round = 0; round < 4; ++round) {  // four upgrades during the stream
        dp::Node node = dp::Node::open_existing({bpffs.root(), mode});
        shuttle_loader_state stale{};
        stale.build_hash = 1000 + round;
        stale.layout_version = SHUTTLE_LAYOUT_VERSION;
        dp::update(node.map_fd("loader"), uint32_t{0}, stale);
        dp::Node upgraded = dp::Node::ensure({bpffs.root(), mode});
        REQUIRE(upgraded.programs_loaded());
        CHECK(upgraded.check(a.endpoint()) == "");
        bpf_prog_info info{};
        uint32_t len = sizeof info;
        REQUIRE(bpf_obj_get_info_by_fd(upgraded.program_fd(), &info, &len) == 0);
        CHECK(info.id != first_prog);
        first_prog = info.id;
        usleep(400 * 1000);
    }
    auto [rc, bytes] = stream.finish();
    REQUIRE(rc == "0\n");  // the 3 s stream finished without an error
    // ...and never stalled: every quarter second moved data.
    REQUIRE(bytes.size() >= 10);
    for (uint64_t b : bytes) {
        CHECK(b > 0);
    }
}

TEST_CASE("the plugin's and the agent's config writes keep each other's fields", "[datapath]") {
    PrivateBpffs bpffs;
    NodeNetns node_netns;
    Pod a(2);
    dp::Node node = dp::Node::ensure({bpffs.root(), dp::AttachMode::Auto});
    REQUIRE_THROWS_WITH(node.attach(a.endpoint()), Catch::Contains("set_config first"));

    node.set_overlay(7, 1, mac("0e:00:00:00:00:07"), *IpAddress::parse("192.168.50.2"));
    node.set_pod_network(*IpPrefix::parse("10.244.1.1/24"), *IpAddress::parse("10.244.1.1"),
                         *IpPrefix::parse("10.244.0.0/16"));
    dp::NodeConfig cfg = node.config();
    CHECK(cfg.node_subnet.str() == "10.244.1.0/24");
    CHECK(cfg.gateway.str() == "10.244.1.1");
    CHECK(cfg.cluster_network.str() == "10.244.0.0/16");
    CHECK(cfg.vxlan_ifindex == 7);
    CHECK(cfg.vni == 1);
    CHECK(cfg.vtep_mac.str() == "0e:00:00:00:00:07");
    CHECK(cfg.underlay_ip.str() == "192.168.50.2");
    node.set_overlay(9, 1, mac("0e:00:00:00:00:09"), *IpAddress::parse("192.168.50.2"));
    CHECK(node.config().gateway.str() == "10.244.1.1");

    node.attach(a.endpoint());
    CHECK(node.check(a.endpoint()) == "");
}

namespace {

const std::string kVariantObject = std::string(SHUTTLE_BPF_DIR) + "/shuttle_variant.bpf.o";
const std::string kLayout2Object = std::string(SHUTTLE_BPF_DIR) + "/shuttle_layout2.bpf.o";

uint32_t this_serial() {
    return dp::Build::this_binary().serial;
}

uint32_t pinned_program_id(const dp::Node& node) {
    return dp::prog_id(node.program_fd("from_pod"));
}

bool pinned_under(const std::string& root, uint32_t layout) {
    return sh("test -e " + root + "/v" + std::to_string(layout)) == 0;
}

}  // namespace

TEST_CASE("the newer build wins: an older build keeps using the newer build's programs",
          "[datapath][upgrade]") {
    auto mode = GENERATE(dp::AttachMode::Tcx, dp::AttachMode::Tc);
    INFO("attach mode " << dp::to_string(mode));
    PrivateBpffs bpffs;
    NodeNetns node_netns;
    Pod a(2), b(3), c(4);
    disable_forwarding();
    node_with(bpffs.root(), mode, {&a, &b});
    shuttle::test::OtherBuild newer(kVariantObject, this_serial() + 1, SHUTTLE_LAYOUT_VERSION);
    dp::Node upgraded = dp::Node::ensure({bpffs.root(), mode, &newer.build()});
    REQUIRE(upgraded.programs_loaded());
    CHECK_FALSE(upgraded.maps_created());
    CHECK(upgraded.pinned_build().serial == this_serial() + 1);
    CHECK(upgraded.check(a.endpoint()) == "");  // every attachment runs the newer programs
    CHECK(upgraded.check(b.endpoint()) == "");
    const uint32_t newer_program = pinned_program_id(upgraded);

    // This (older) build, e.g. the plugin of the last release during a rollout: keeps them.
    dp::Node older = dp::Node::ensure({bpffs.root(), mode});
    CHECK_FALSE(older.programs_loaded());
    CHECK(pinned_program_id(older) == newer_program);
    older.attach(c.endpoint());  // a new pod gets the newer build's programs too
    CHECK(upgraded.check(c.endpoint()) == "");
    CHECK(pings(a, c, 2));

    // A build of the same serial but other contents does not swap them back either.
    shuttle::test::OtherBuild same_serial(kVariantObject, this_serial() + 1,
                                          SHUTTLE_LAYOUT_VERSION);
    dp::Build twin = same_serial.build();
    twin.hash ^= 1;
    CHECK_FALSE(dp::Node::ensure({bpffs.root(), mode, &twin}).programs_loaded());
    CHECK(pinned_program_id(dp::Node::open_existing({bpffs.root(), mode})) == newer_program);

    // A Node opened before a replacement attaches what is pinned now, not what it opened.
    dp::Node opened_before = dp::Node::ensure({bpffs.root(), mode});
    shuttle::test::OtherBuild newest(kVariantObject, this_serial() + 2, SHUTTLE_LAYOUT_VERSION);
    dp::Build newest_build = newest.build();
    newest_build.hash ^= 2;
    dp::Node replaced = dp::Node::ensure({bpffs.root(), mode, &newest_build});
    REQUIRE(replaced.programs_loaded());
    opened_before.attach(c.endpoint());
    CHECK(replaced.check(c.endpoint()) == "");
    CHECK(pings(c, b, 2));
}

namespace {

// A pod of an IPv6-only network, wired as the plugin does it: fd00:99:1::N/128 (no on-link
// prefix), default route via the gateway fd00:99:1::1, which the host veth holds as /128.
class Ipv6OnlyPod {
  public:
    explicit Ipv6OnlyPod(int last)
        : netns_(unique("p6")),
          host_ifname_(unique("w")),
          ip_("fd00:99:1::" + std::to_string(last)),
          pod_mac_("02:00:00:00:06:0" + std::to_string(last)),
          host_mac_("02:00:00:00:0b:0" + std::to_string(last)) {
        must("ip netns add " + netns_);
        must("ip link add " + host_ifname_ + " address " + host_mac_ +
             " type veth peer name eth0 address " + pod_mac_ + " netns " + netns_);
        must("ip -n " + netns_ + " link set lo up");
        must("ip -n " + netns_ + " addr add " + ip_ + "/128 dev eth0 nodad");
        must("ip -n " + netns_ + " link set eth0 up");
        must("ip -n " + netns_ + " -6 route add fd00:99:1::1 dev eth0");
        must("ip -n " + netns_ + " -6 route add default via fd00:99:1::1 dev eth0");
        must("ip link set " + host_ifname_ + " up");
        must("ip addr add fd00:99:1::1/128 dev " + host_ifname_ + " nodad");
        must("ip -6 route add " + ip_ + "/128 dev " + host_ifname_);
    }
    ~Ipv6OnlyPod() { sh("ip netns del " + netns_); }

    dp::Endpoint endpoint() const {
        dp::Endpoint ep;
        ep.ip6 = *IpAddress::parse(ip_);
        ep.pod_mac = mac(pod_mac_);
        ep.host_mac = mac(host_mac_);
        ep.host_ifname = host_ifname_;
        ep.host_ifindex = static_cast<int>(if_nametoindex(host_ifname_.c_str()));
        ep.container_id = "c-" + netns_;
        ep.ifname = "eth0";
        ep.pod_namespace = "default";
        ep.pod_name = "pod-" + netns_;
        return ep;
    }
    bool pings(const Ipv6OnlyPod& to, int count = 2) const {
        return sh("ip netns exec " + netns_ + " ping -6 -c " + std::to_string(count) +
                  " -i 0.2 -W 1 " + to.ip_) == 0;
    }
    const std::string& ip() const { return ip_; }
    const std::string& host_ifname() const { return host_ifname_; }

  private:
    std::string netns_, host_ifname_, ip_, pod_mac_, host_mac_;
};

dp::NodeConfig6 ipv6_only_config() {
    return {*IpPrefix::parse("fd00:99:1::/64"), *IpAddress::parse("fd00:99:1::1"),
            *IpPrefix::parse("fd00:99::/48")};
}

}  // namespace

// No IPv4 at all: endpoints6 and endpoint_meta6 key the pod; the newer build's programs
// replace its tc filter as any pod's; detach takes the programs off.
TEST_CASE("IPv6-only pods get the programs: attach, check, upgrade, detach",
          "[datapath][upgrade][ipv6]") {
    auto mode = GENERATE(dp::AttachMode::Tcx, dp::AttachMode::Tc);
    INFO("attach mode " << dp::to_string(mode));
    PrivateBpffs bpffs;
    NodeNetns node_netns;
    Ipv6OnlyPod a(2), b(3);
    must("sysctl -qw net.ipv6.conf.all.forwarding=0");
    REQUIRE_FALSE(a.pings(b, 1));  // the host path is closed

    dp::Node node = dp::Node::ensure({bpffs.root(), mode});
    CHECK_THROWS_AS(node.attach(a.endpoint()), std::invalid_argument);  // no node_config6 yet
    CHECK(node.set_pod_network6(ipv6_only_config()));
    node.attach(a.endpoint());
    node.attach(b.endpoint());
    CHECK(node.check(a.endpoint()) == "");
    CHECK(node.check(b.endpoint()) == "");
    auto attachments = node.attachments();
    REQUIRE(attachments.size() == 2);
    for (const auto& att : attachments) {
        CHECK(att.attached);
        CHECK(att.mode == mode);
        CHECK_FALSE(att.pod_ip.is_v4());
    }
    CHECK(a.pings(b, 3));
    CHECK(counted(node, SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_LOCAL) >= 6);
    CHECK(counted(node, SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_NA_REPLY) >= 1);

    shuttle::test::OtherBuild newer(kVariantObject, this_serial() + 1, SHUTTLE_LAYOUT_VERSION);
    dp::Node upgraded = dp::Node::ensure({bpffs.root(), mode, &newer.build()});
    REQUIRE(upgraded.programs_loaded());
    CHECK(upgraded.check(a.endpoint()) == "");  // the newer programs on both veths
    CHECK(upgraded.check(b.endpoint()) == "");
    CHECK(b.pings(a, 2));

    upgraded.detach(a.host_ifname(), a.endpoint().ip6);
    CHECK(upgraded.check(a.endpoint()).find("no endpoint entry") == 0);
    CHECK(upgraded.attachments().size() == 1);
    CHECK_FALSE(b.pings(a, 1));             // nothing carries it now: it was the programs
    upgraded.detach("", b.endpoint().ip6);  // the name endpoint_meta6 recorded
    CHECK(upgraded.attachments().empty());
    CHECK(dp::tc_prog_id(static_cast<int>(if_nametoindex(b.host_ifname().c_str())),
                         dp::Hook::Ingress) == std::nullopt);
}

// [serial]: every 0.1 s of the stream must move data; under ctest -j4 a TCX swap once left 0.4 s.
TEST_CASE("a new layout carries the state and replaces every attachment under a TCP stream",
          "[datapath][upgrade][serial]") {
    auto mode = GENERATE(dp::AttachMode::Tcx, dp::AttachMode::Tc);
    INFO("attach mode " << dp::to_string(mode));
    PrivateBpffs bpffs;
    NodeNetns node_netns;
    Pod a(2), b(3);
    disable_forwarding();  // only the eBPF path can carry the stream
    dp::RemoteRoute route{*IpPrefix::parse("10.244.7.0/24"), *IpAddress::parse("192.168.9.7"),
                          mac("0e:00:00:00:00:77"), 1};
    shuttle_nat_pair pair{};
    {
        dp::Node node = dp::Node::ensure({bpffs.root(), mode});
        node.set_config(node_config());
        node.attach(a.endpoint());
        node.attach(b.endpoint());
        node.set_routes({route});
        pair.pod = dp::ipv4_of(a.endpoint().ip);
        pair.peer = dp::ipv4_of(*IpAddress::parse("10.244.9.9"));
        dp::update(node.map_fd("nat_pairs"), pair, shuttle_nat_seen{123});
    }
    BackgroundStream stream(a, b, 3, 0.1);
    shuttle::test::OtherBuild layout2(kLayout2Object, this_serial() + 1, 2);
    dp::Node upgraded = dp::Node::ensure({bpffs.root(), mode, &layout2.build()});
    REQUIRE(upgraded.programs_loaded());
    CHECK_FALSE(upgraded.maps_created());  // carried, not lost
    CHECK(upgraded.pin_dir() == bpffs.root() + "/v2");
    CHECK_FALSE(pinned_under(bpffs.root(), 1));  // the old layout's pins are gone
    CHECK(upgraded.check(a.endpoint()) == "");   // both hooks of both veths run layout 2's
    CHECK(upgraded.check(b.endpoint()) == "");
    CHECK(upgraded.routes() == std::vector<dp::RemoteRoute>{route});
    CHECK(upgraded.config().node_subnet.str() == "10.244.1.0/24");
    uint64_t converted[2] = {};
    REQUIRE(bpf_map_lookup_elem(upgraded.map_fd("nat_pairs"), &pair, converted) == 0);
    CHECK(converted[0] == 123);  // the test layout's conversion: last seen, first seen
    CHECK(converted[1] == 123);

    auto [rc, bytes] = stream.finish();
    REQUIRE(rc == "0\n");  // the stream survived the replacement
    REQUIRE(bytes.size() >= 25);
    for (uint64_t b : bytes) {
        CHECK(b > 0);  // no 0.1 s interval without data
    }

    // This build knows only layout 1: it refuses the newer pins and changes nothing.
    REQUIRE_THROWS_WITH(dp::Node::ensure({bpffs.root(), mode}),
                        Catch::Contains("newer than this build's layout 1"));
    REQUIRE_THROWS_WITH(dp::Node::open_existing({bpffs.root(), mode}),
                        Catch::Contains("newer than this build's layout 1"));
    CHECK_FALSE(pinned_under(bpffs.root(), 1));
    CHECK(upgraded.check(a.endpoint()) == "");
    CHECK(pings(a, b, 2));
}

TEST_CASE("a layout change without a conversion is refused before anything changes",
          "[datapath][upgrade]") {
    PrivateBpffs bpffs;
    NodeNetns node_netns;
    Pod a(2), b(3);
    disable_forwarding();
    dp::Node node = node_with(bpffs.root(), dp::AttachMode::Tc, {&a, &b});
    shuttle::test::OtherBuild layout2(kLayout2Object, this_serial() + 1, 2);
    dp::Build unconvertible = layout2.build();
    unconvertible.conversions.clear();
    REQUIRE_THROWS_WITH(dp::Node::ensure({bpffs.root(), dp::AttachMode::Tc, &unconvertible}),
                        Catch::Contains("cannot carry map nat_pairs"));
    CHECK(dp::Node::ensure({bpffs.root(), dp::AttachMode::Tc}).check(a.endpoint()) == "");
    CHECK(pings(a, b, 2));
}

// Not a pass/fail test: what ensure() and attach() cost an ADD. Run with
//   shuttle_integration_tests "[bench]"
TEST_CASE("cost of ensure and attach", "[.][bench]") {
    for (auto mode : {dp::AttachMode::Tcx, dp::AttachMode::Tc}) {
        PrivateBpffs bpffs;
        NodeNetns node_netns;
        std::vector<std::unique_ptr<Pod>> pods;
        for (int i = 2; i < 22; ++i) {
            pods.push_back(std::make_unique<Pod>(i));
        }
        auto now = [] { return std::chrono::steady_clock::now(); };
        auto us = [](auto d) {
            return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
        };
        auto t0 = now();
        dp::Node first = dp::Node::ensure({bpffs.root(), mode});
        auto load_us = us(now() - t0);
        first.set_config(node_config());
        std::vector<long> ensure_us, attach_us;
        for (const auto& pod : pods) {
            auto t1 = now();
            dp::Node node = dp::Node::ensure({bpffs.root(), mode});
            auto t2 = now();
            node.attach(pod->endpoint());
            auto t3 = now();
            ensure_us.push_back(us(t2 - t1));
            attach_us.push_back(us(t3 - t2));
        }
        std::sort(ensure_us.begin(), ensure_us.end());
        std::sort(attach_us.begin(), attach_us.end());
        std::printf(
            "%s: first ensure (load+verify+pin) %ld us; then p50 ensure %ld us, p50 "
            "attach %ld us\n",
            dp::to_string(mode).c_str(), static_cast<long>(load_us),
            ensure_us[ensure_us.size() / 2], attach_us[attach_us.size() / 2]);
    }
}
