// Two simulated nodes joined by an underlay, each with the product's VXLAN device
// (overlay::ensure_vxlan_device), its own bpffs (in this process's private mount namespace),
// pods added by the real CNI plugin (build/bin/shuttle, flannel-style subnet.env) and the
// routes set through the datapath API: the eBPF overlay path proves itself with forwarding
// off in both nodes. Root; nothing touches the root network namespace.
#include <bpf/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/system_error.h"
#include "datapath/attach.h"
#include "datapath/bpffs.h"
#include "datapath/datapath.h"
#include "private_mount_namespace.h"
#include "shell_commands.h"
#include "datapath/map_access.h"
#include "netlink/socket.h"
#include "netns/guard.h"
#include "overlay/vxlan_device.h"

namespace dp = shuttle::datapath;
using shuttle::IpAddress;
using shuttle::IpPrefix;
using shuttle::test::enter_private_mount_namespace;
using shuttle::test::must;
using shuttle::test::output_of;
using shuttle::test::sh;

namespace {

std::string run_id() {
    static int counter = 0;
    return "shen" + std::to_string(getpid()) + "x" + std::to_string(counter++);
}

const IpPrefix kCluster = *IpPrefix::parse("10.244.0.0/16");

// One node: a named netns, an underlay address on eth0, subnet.env, a bpffs, the VXLAN
// device and the datapath, set up as shuttled would.
struct SimNode {
    std::string netns;
    std::string work;  // the node's files
    IpAddress underlay;
    IpPrefix subnet;
    shuttle::overlay::VxlanDevice device;
    std::optional<dp::Node> datapath;

    std::string bpffs() const { return work + "/bpffs"; }
    std::string bpffs_root() const { return bpffs() + "/shuttle"; }
    std::string exec(const std::string& command) const {
        return "ip netns exec " + netns + " " + command;
    }
    IpAddress device_address() const { return subnet.network().address; }  // <subnet>.0
    shuttle::UniqueFd netns_fd() const { return shuttle::netns::open("/run/netns/" + netns); }

    dp::RemoteRoute route() const { return {subnet.network(), underlay, device.mac, 1}; }
    int underlay_ifindex() const {
        shuttle::UniqueFd fd = netns_fd();
        shuttle::netns::Guard inside(fd.get());
        return static_cast<int>(if_nametoindex("eth0"));
    }
    // What shuttled does for --overlay direct|device: the mode, then from_underlay on eth0
    // (direct) or off it (device).
    void set_overlay_mode(dp::OverlayMode mode) {
        int eth0 = underlay_ifindex();
        shuttle::UniqueFd fd = netns_fd();
        shuttle::netns::Guard inside(fd.get());
        datapath->set_underlay({eth0, 8472, mode});
        if (mode == dp::OverlayMode::direct) {
            datapath->attach_underlay(eth0, "eth0");
        } else {
            datapath->detach_underlay("eth0");
        }
    }
    uint64_t counted(uint32_t verdict, uint32_t reason) const {
        for (const auto& c : dp::read_stats(datapath->map_fd("stats"))) {
            if (c.verdict == verdict && c.reason == reason) {
                return c.packets;
            }
        }
        return 0;
    }
};

struct SimPod {
    std::string netns;
    std::string container_id;
    std::string ip;
    const SimNode* node = nullptr;
    std::string exec(const std::string& command) const {
        return "ip netns exec " + netns + " " + command;
    }
};

// Programs attached at a hook of a device, TCX links and shuttle's cls_bpf filter together.
int programs_at(int ifindex, dp::Hook hook) {
    constexpr uint32_t kTcxIngress = 46, kTcxEgress = 47;  // Debian 12's headers predate TCX
    uint32_t ids[8] = {};
    uint32_t count = 8;
    uint32_t flags = 0;
    auto type = static_cast<bpf_attach_type>(hook == dp::Hook::Ingress ? kTcxIngress : kTcxEgress);
    if (bpf_prog_query(ifindex, type, 0, &flags, ids, &count) != 0) {
        count = 0;
    }
    return static_cast<int>(count) + (dp::tc_prog_id(ifindex, hook) ? 1 : 0);
}

class TwoNodes {
  public:
    dp::AttachMode mode() const { return mode_; }
    enum class Peer { Shuttle, Flannel };
    // `peer` Flannel: node b is configured as flanneld's vxlan backend configures a node
    // (flannel_peer below) instead of running shuttle.
    explicit TwoNodes(dp::AttachMode mode = dp::AttachMode::Auto, Peer peer = Peer::Shuttle,
                      dp::OverlayMode overlay = dp::OverlayMode::device)
        : run_(run_id()), mode_(mode) {
        enter_private_mount_namespace();
        char tmpl[] = "/tmp/shuttle-encap-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        work_ = tmpl;
        must("mkdir -p " + work_ + "/cni-bin && ln -s " SHUTTLE_BIN_DIR "/shuttle " + work_ +
             "/cni-bin/shuttle");
        nodes_[0] = make_node("a", "192.168.0.1", "10.244.1.0/24");
        nodes_[1] = make_node("b", "192.168.0.2", "10.244.2.0/24");
        // The underlay: one veth between the nodes, made inside node a.
        must("ip -n " + a().netns + " link add eth0 type veth peer name eth0 netns " + b().netns);
        for (SimNode* n : {&a(), &b()}) {
            must("ip -n " + n->netns + " addr add " + n->underlay.str() + "/24 dev eth0");
            must("ip -n " + n->netns + " link set eth0 up");
        }
        start_overlay(a());
        a().set_overlay_mode(overlay);
        if (peer == Peer::Flannel) {
            flannel_peer(b(), a());
            a().datapath->set_routes({b().route()});
            return;
        }
        start_overlay(b());
        b().set_overlay_mode(overlay);
        a().datapath->set_routes({b().route()});
        b().datapath->set_routes({a().route()});
    }

    ~TwoNodes() {
        for (const std::string& ns : namespaces_) {
            sh("ip netns del " + ns);
        }
        for (const SimNode& n : nodes_) {
            if (!n.work.empty()) {
                umount2(n.bpffs().c_str(), MNT_DETACH);
            }
        }
        sh("rm -rf " + work_);
    }

    SimNode& a() { return nodes_[0]; }
    SimNode& b() { return nodes_[1]; }

    // ADD through the real plugin inside `node`; the pod's address from its result.
    SimPod add_pod(const SimNode& node, const std::string& name) {
        SimPod pod;
        pod.netns = run_ + "p" + name;
        pod.container_id = "ctr-" + pod.netns;
        pod.node = &node;
        must("ip netns add " + pod.netns);
        namespaces_.push_back(pod.netns);
        must("ip -n " + pod.netns + " link set lo up");
        std::string out = cni(node, "ADD", pod);
        INFO(out);
        auto result = nlohmann::json::parse(out);
        std::string cidr = result.at("ips").at(0).at("address");
        pod.ip = cidr.substr(0, cidr.find('/'));
        return pod;
    }

    void del_pod(const SimPod& pod) { cni(*pod.node, "DEL", pod); }

    // A namespace of this run, removed with it.
    std::string extra_netns(const std::string& name) {
        std::string ns = run_ + name;
        must("ip netns add " + ns);
        namespaces_.push_back(ns);
        return ns;
    }

    // Both nodes forward nothing: only the eBPF path can move pod traffic between them.
    void forwarding_off() {
        for (const SimNode* n : {&a(), &b()}) {
            must(n->exec("sysctl -qw net.ipv4.ip_forward=0"));
        }
    }

  private:
    SimNode make_node(const std::string& name, const std::string& underlay,
                      const std::string& subnet) {
        SimNode n;
        n.netns = run_ + name;
        n.work = work_ + "/" + name;
        n.underlay = *IpAddress::parse(underlay);
        n.subnet = *IpPrefix::parse(subnet);
        must("ip netns add " + n.netns);
        namespaces_.push_back(n.netns);
        must("ip -n " + n.netns + " link set lo up");
        must("mkdir -p " + n.bpffs());
        REQUIRE(mount("bpf", n.bpffs().c_str(), "bpf", 0, nullptr) == 0);
        std::ofstream env(n.work + "/subnet.env");
        env << "FLANNEL_NETWORK=" << kCluster.str()
            << "\nFLANNEL_SUBNET=" << IpAddress::v4(n.subnet.address.v4_host_order() + 1).str()
            << "/" << n.subnet.length << "\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n";
        return n;
    }

    // flanneld's vxlan backend (anchors §3.3): flannel.1 with VNI 1, port 8472, nolearning,
    // <subnet>.0/32; per peer a permanent neighbour, an FDB entry and an onlink route.
    void flannel_peer(SimNode& n, const SimNode& peer) {
        const std::string vtep = "0e:fa:00:00:00:02";
        n.device.name = "flannel.1";
        n.device.mac = *shuttle::MacAddress::parse(vtep);
        std::string ip = "ip -n " + n.netns + " ";
        must(ip + "link add flannel.1 address " + vtep +
             " type vxlan id 1 dstport 8472 nolearning local " + n.underlay.str() + " dev eth0");
        must(ip + "link set flannel.1 mtu 1450 up");
        must(ip + "addr add " + n.device_address().str() + "/32 dev flannel.1");
        std::string peer_gw = peer.device_address().str();
        must(ip + "neigh add " + peer_gw + " lladdr " + peer.device.mac.str() +
             " dev flannel.1 nud permanent");
        must("bridge -n " + n.netns + " fdb add " + peer.device.mac.str() + " dev flannel.1 dst " +
             peer.underlay.str() + " self permanent");
        must(ip + "route add " + peer.subnet.str() + " via " + peer_gw + " dev flannel.1 onlink");
        must(n.exec("sysctl -qw net.ipv4.ip_forward=1"));
    }

    // What shuttled does at start: the device, then the datapath's node config and programs.
    void start_overlay(SimNode& n) {
        shuttle::UniqueFd fd = n.netns_fd();
        auto nl = shuttle::netlink::Socket::in_netns(fd.get());
        shuttle::overlay::VxlanDeviceSpec spec;
        spec.underlay = shuttle::netlink::LinkRef("eth0");
        spec.public_ip = n.underlay;
        spec.node_subnet = n.subnet;
        spec.cluster_network = kCluster;
        n.device = shuttle::overlay::ensure_vxlan_device(nl, spec);
        shuttle::netns::Guard inside(fd.get());
        n.datapath.emplace(dp::Node::ensure({n.bpffs_root(), mode_}));
        n.datapath->set_pod_network(n.subnet.network(),
                                    IpAddress::v4(n.subnet.address.v4_host_order() + 1), kCluster);
        n.datapath->set_overlay(n.device.index, 1, n.device.mac, n.underlay);
        n.datapath->attach_overlay(n.device.index, n.device.name);
    }

    std::string conf(const SimNode& node) const {
        nlohmann::json c = {{"cniVersion", "1.0.0"},
                            {"name", "net-" + run_},
                            {"type", "shuttle"},
                            {"subnetFile", node.work + "/subnet.env"},
                            {"bpffsRoot", node.bpffs_root()},
                            {"dataDir", node.work + "/shuttle"},
                            {"ipMasq", false},
                            {"attach", dp::to_string(mode_)},
                            {"ipam", {{"dataDir", node.work + "/networks"}}}};
        return c.dump();
    }

    std::string cni(const SimNode& node, const std::string& command, const SimPod& pod) {
        std::string conf_file = node.work + "/conf.json";
        std::ofstream(conf_file) << conf(node);
        return output_of("nsenter --net=/run/netns/" + node.netns +
                         " env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=" + command +
                         " CNI_CONTAINERID=" + pod.container_id + " CNI_NETNS=/run/netns/" +
                         pod.netns + " CNI_IFNAME=eth0 CNI_PATH=" + work_ + "/cni-bin " +
                         SHUTTLE_BIN_DIR "/shuttle < " + conf_file + " 2>>" + node.work +
                         "/cni.log");
    }

    std::string run_;
    dp::AttachMode mode_;
    std::string work_;
    std::array<SimNode, 2> nodes_;
    std::vector<std::string> namespaces_;
};

bool pings(const std::string& exec_prefix_command, const std::string& to, int count = 3) {
    return sh(exec_prefix_command + "ping -c " + std::to_string(count) + " -i 0.2 -W 1 " + to) == 0;
}
bool pings(const SimPod& from, const std::string& to, int count = 3) {
    return pings("ip netns exec " + from.netns + " ", to, count);
}
bool pings(const SimNode& from, const std::string& to, int count = 3) {
    return pings("ip netns exec " + from.netns + " ", to, count);
}

// A TCP transfer of `bytes` from `client` to a one-shot iperf3 server in `server`'s netns,
// reached at `address` (default: the server itself).
bool tcp_transfer(const std::string& client_netns, const std::string& server_netns,
                  const std::string& server_ip, const std::string& bytes, std::string address = "",
                  const std::string& port = "5201", std::string client_port = "") {
    if (address.empty()) {
        address = server_ip;
    }
    if (client_port.empty()) {
        client_port = port;
    }
    std::string pidfile = "/tmp/" + run_id() + "-iperf.pid";
    if (sh("ip netns exec " + server_netns + " iperf3 -s -1 -D -B " + server_ip + " -p " + port +
           " -I " + pidfile) != 0) {
        return false;
    }
    usleep(300 * 1000);
    bool ok = sh("ip netns exec " + client_netns + " timeout 30 iperf3 -c " + address + " -p " +
                 client_port + " -n " + bytes) == 0;
    sh("test -f " + pidfile + " && kill $(cat " + pidfile + ") ; rm -f " + pidfile);
    return ok;
}

}  // namespace

TEST_CASE("pods on two nodes talk through the eBPF overlay with forwarding off", "[encap]") {
    TwoNodes cluster;
    SimPod a1 = cluster.add_pod(cluster.a(), "a1");
    SimPod b1 = cluster.add_pod(cluster.b(), "b1");
    REQUIRE(a1.ip.rfind("10.244.1.", 0) == 0);
    REQUIRE(b1.ip.rfind("10.244.2.", 0) == 0);
    cluster.forwarding_off();
    SimNode& a = cluster.a();
    SimNode& b = cluster.b();

    uint64_t remote_before = a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE);
    uint64_t decap_before = b.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP);
    CHECK(pings(a1, b1.ip));
    CHECK(pings(b1, a1.ip));
    CHECK(a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) - remote_before >= 6);
    CHECK(b.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP) - decap_before >= 6);
    CHECK(b.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) >= 6);
    CHECK(a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP) >= 6);

    CHECK(tcp_transfer(a1.netns, b1.netns, b1.ip, "20M"));
    CHECK(tcp_transfer(b1.netns, a1.netns, a1.ip, "20M"));

    // The host of one node and the pods of the other (the device's <subnet>.0 as source).
    CHECK(pings(a, b1.ip));
    CHECK(pings(b1, a.device_address().str()));
    CHECK(a.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_ENCAP) >= 3);
    CHECK(tcp_transfer(a.netns, b1.netns, b1.ip, "5M"));
    // Nothing a pod sent ever had to take the stack path to reach the other node.
    CHECK(a.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_NO_ROUTE) == 0);

    // from_pod's packets pass to_overlay untouched (a redirect runs the egress hook).
    CHECK(a.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_ENCAPSULATED) >=
          a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE));

    cluster.del_pod(a1);
    cluster.del_pod(b1);
}

TEST_CASE("direct overlay: pods on two nodes talk with forwarding off, no device on the way",
          "[encap][direct]") {
    TwoNodes cluster(dp::AttachMode::Auto, TwoNodes::Peer::Shuttle, dp::OverlayMode::direct);
    SimPod a1 = cluster.add_pod(cluster.a(), "a1");
    SimPod b1 = cluster.add_pod(cluster.b(), "b1");
    cluster.forwarding_off();
    SimNode& a = cluster.a();
    SimNode& b = cluster.b();

    CHECK(pings(a1, b1.ip));
    CHECK(pings(b1, a1.ip));
    for (const SimNode* n : {&a, &b}) {
        CHECK(n->counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ENCAP_DIRECT) >= 6);
        CHECK(n->counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP_DIRECT) >= 6);
        CHECK(n->counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 0);
        CHECK(n->counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP) == 0);
    }

    CHECK(tcp_transfer(a1.netns, b1.netns, b1.ip, "20M"));
    CHECK(tcp_transfer(b1.netns, a1.netns, a1.ip, "20M"));
    // TSO survives the encapsulation: every pod packet, GSO ones included, left directly.
    CHECK(a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 0);
    CHECK(b.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) == 0);
    // What the receiving side did with the streams (GSO packets go to the device).
    std::printf(
        "direct overlay, 2 x 20 MB: node b decap-direct %llu, to-device %llu, decap %llu\n",
        static_cast<unsigned long long>(
            b.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP_DIRECT)),
        static_cast<unsigned long long>(b.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_TO_DEVICE)),
        static_cast<unsigned long long>(
            b.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP)));

    // The host keeps the device path: host -> remote pod and back.
    CHECK(pings(a, b1.ip));
    CHECK(pings(b1, a.device_address().str()));
    CHECK(a.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_ENCAP) >= 3);
    // Nothing forged, nothing refused.
    for (const SimNode* n : {&a, &b}) {
        CHECK(n->counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_UNKNOWN_NODE) == 0);
        CHECK(n->counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_FORGED_INNER_SRC) == 0);
    }
    cluster.del_pod(a1);
    cluster.del_pod(b1);
}

TEST_CASE("direct overlay: a pod that forwards a stream from another node onward",
          "[encap][direct]") {
    TwoNodes cluster(dp::AttachMode::Auto, TwoNodes::Peer::Shuttle, dp::OverlayMode::direct);
    SimPod a1 = cluster.add_pod(cluster.a(), "a1");
    SimPod a2 = cluster.add_pod(cluster.a(), "a2");
    SimPod router = cluster.add_pod(cluster.b(), "r");
    SimPod b2 = cluster.add_pod(cluster.b(), "b2");
    cluster.forwarding_off();
    // The router pod forwards port 6001 to b2 (its node) and 6002 to a2 (back across), as a
    // proxy-less gateway pod would: DNAT in, MASQUERADE out (its own address as source).
    must(router.exec("sysctl -qw net.ipv4.ip_forward=1"));
    for (auto [port, target] : {std::pair{"6001", b2.ip}, std::pair{"6002", a2.ip}}) {
        must(router.exec("iptables -t nat -A PREROUTING -p tcp --dport " + std::string(port) +
                         " -j DNAT --to-destination " + target + ":5201"));
    }
    must(router.exec("iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE"));
    CHECK(tcp_transfer(a1.netns, b2.netns, b2.ip, "20M", router.ip, "5201", "6001"));
    CHECK(tcp_transfer(a1.netns, a2.netns, a2.ip, "20M", router.ip, "5201", "6002"));
}

TEST_CASE("switching the overlay mode keeps a running TCP stream, device mode works as before",
          "[encap][direct]") {
    TwoNodes cluster(dp::AttachMode::Auto, TwoNodes::Peer::Shuttle, dp::OverlayMode::direct);
    SimPod a1 = cluster.add_pod(cluster.a(), "a1");
    SimPod b1 = cluster.add_pod(cluster.b(), "b1");
    cluster.forwarding_off();
    SimNode& a = cluster.a();
    SimNode& b = cluster.b();
    REQUIRE(pings(a1, b1.ip, 2));

    // A 6 s stream a1 -> b1; the mode flips under it, both nodes, twice.
    std::string out = "/tmp/" + run_id() + "-iperf";
    must(b1.exec("iperf3 -s -1 -D -B " + b1.ip + " -I " + out + ".pid"));
    usleep(300 * 1000);
    must("(" + a1.exec("timeout 20 iperf3 -c " + b1.ip + " -t 6 -J") + " > " + out +
         ".json; echo $? > " + out + ".rc) &");
    sleep(2);
    uint64_t remote_before = a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE);
    a.set_overlay_mode(dp::OverlayMode::device);
    b.set_overlay_mode(dp::OverlayMode::device);
    sleep(2);
    // Device mode: the stream moved to the device on both sides.
    CHECK(a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) > remote_before);
    CHECK_FALSE(a.datapath->underlay_attachment()->attached);
    a.set_overlay_mode(dp::OverlayMode::direct);
    b.set_overlay_mode(dp::OverlayMode::direct);
    for (int i = 0; i < 150 && sh("test -s " + out + ".rc") != 0; ++i) {
        usleep(100 * 1000);
    }
    CHECK(output_of("cat " + out + ".rc") == "0\n");
    auto report = nlohmann::json::parse(output_of("cat " + out + ".json"));
    for (const auto& interval : report.at("intervals")) {
        CHECK(interval.at("sum").at("bytes").get<uint64_t>() > 0);  // no stalled second
    }
    sh("test -f " + out + ".pid && kill $(cat " + out + ".pid); rm -f " + out + ".*");

    // And in device mode from the start of a connection, as before.
    a.set_overlay_mode(dp::OverlayMode::device);
    b.set_overlay_mode(dp::OverlayMode::device);
    uint64_t direct_before = a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ENCAP_DIRECT);
    CHECK(pings(a1, b1.ip));
    CHECK(tcp_transfer(a1.netns, b1.netns, b1.ip, "10M"));
    CHECK(a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_ENCAP_DIRECT) == direct_before);
    CHECK(b.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP) >= 3);
}

TEST_CASE("from_underlay: upgraded in place, detached without touching others' filters",
          "[encap][direct]") {
    auto mode = GENERATE(dp::AttachMode::Tcx, dp::AttachMode::Tc);
    INFO("attach " << dp::to_string(mode));
    TwoNodes cluster(mode, TwoNodes::Peer::Shuttle, dp::OverlayMode::direct);
    SimPod a1 = cluster.add_pod(cluster.a(), "a1");
    SimPod b1 = cluster.add_pod(cluster.b(), "b1");
    SimNode& a = cluster.a();
    const int eth0 = a.underlay_ifindex();
    // Another agent's filter on the shared interface (classic BPF: this kernel has no other
    // classifier modules).
    must(a.exec("tc qdisc add dev eth0 clsact"));
    must(a.exec("tc filter add dev eth0 ingress prio 7 bpf bytecode '1,6 0 0 0,'"));
    shuttle::UniqueFd node_fd = a.netns_fd();
    shuttle::netns::Guard inside(node_fd.get());

    auto underlay = a.datapath->underlay_attachment();
    REQUIRE(underlay);
    CHECK(underlay->attached);
    CHECK(underlay->ifname == "eth0");
    CHECK(underlay->mode == dp::AttachMode::Tcx);  // whatever the pods use: a shared interface
    a.datapath->attach_underlay(eth0, "eth0");     // idempotent
    CHECK(programs_at(eth0, dp::Hook::Ingress) == 1);

    shuttle_loader_state stale{};
    stale.build_hash = 42;
    stale.layout_version = SHUTTLE_LAYOUT_VERSION;
    dp::update(a.datapath->map_fd("loader"), uint32_t{0}, stale);
    uint32_t old_prog = dp::prog_id(a.datapath->program_fd("from_underlay"));
    // Pins of a build before the direct overlay lack its map: the load creates and fills it.
    dp::unpin(a.bpffs_root() + "/v" + std::to_string(SHUTTLE_LAYOUT_VERSION) +
              "/maps/underlay_nodes");
    dp::Node upgraded = dp::Node::ensure({a.bpffs_root(), mode});
    CHECK(dp::prog_id(upgraded.program_fd("from_underlay")) != old_prog);
    CHECK(upgraded.underlay_attachment()->attached);
    CHECK(programs_at(eth0, dp::Hook::Ingress) == 1);
    uint64_t before = a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP_DIRECT);
    CHECK(pings(b1, a1.ip, 2));
    a.datapath.emplace(std::move(upgraded));
    CHECK(a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP_DIRECT) >= before + 2);

    a.datapath->detach_underlay("eth0");
    a.datapath->detach_underlay("eth0");  // idempotent
    CHECK(programs_at(eth0, dp::Hook::Ingress) == 0);
    a.datapath->attach_underlay(eth0, "eth0");
    a.datapath.reset();
    dp::Node::uninstall({a.bpffs_root(), mode});
    CHECK(programs_at(eth0, dp::Hook::Ingress) == 0);  // flannel's VXLAN is not stolen
    CHECK(output_of(a.exec("tc filter show dev eth0 ingress")).find("bytecode") !=
          std::string::npos);
}

TEST_CASE("shuttlectl routes and status show the overlay", "[encap]") {
    TwoNodes cluster;
    SimNode& a = cluster.a();
    std::string ctl = a.exec(SHUTTLE_BIN_DIR "/shuttlectl --bpffs-root " + a.bpffs_root());
    auto routes = nlohmann::json::parse(output_of(ctl + " --json routes"));
    REQUIRE(routes.size() == 1);
    CHECK(routes[0]["subnet"] == "10.244.2.0/24");
    CHECK(routes[0]["underlay_ip"] == "192.168.0.2");
    CHECK(routes[0]["vtep_mac"] == cluster.b().device.mac.str());
    CHECK(routes[0]["vni"] == 1);
    std::string table = output_of(ctl + " routes");
    CHECK(table.find("SUBNET") != std::string::npos);
    CHECK(table.find("10.244.2.0/24  192.168.0.2") != std::string::npos);

    auto status = nlohmann::json::parse(output_of(ctl + " --json status"));
    CHECK(status["overlay"]["ifname"] == a.device.name);
    CHECK(status["overlay"]["attached"] == true);
    CHECK(output_of(ctl + " status").find("overlay  " + a.device.name) != std::string::npos);

    a.datapath->set_routes({});
    CHECK(nlohmann::json::parse(output_of(ctl + " --json routes")).empty());
}

TEST_CASE("a flannel vxlan node and a shuttle node exchange pod traffic both ways", "[encap]") {
    TwoNodes cluster(dp::AttachMode::Auto, TwoNodes::Peer::Flannel);
    SimNode& shuttle_node = cluster.a();
    SimNode& flannel_node = cluster.b();
    SimPod a1 = cluster.add_pod(shuttle_node, "a1");
    // A pod behind flannel's bridge, as the bridge plugin wires it: cni0 with the gateway.
    std::string fl = "ip -n " + flannel_node.netns + " ";
    std::string pod_ns = cluster.extra_netns("fp");
    must(fl + "link add cni0 type bridge");
    must(fl + "addr add 10.244.2.1/24 dev cni0");
    must(fl + "link set cni0 up");
    must(fl + "link add vethfp type veth peer name eth0 netns " + pod_ns);
    must(fl + "link set vethfp master cni0 up");
    must("ip -n " + pod_ns + " addr add 10.244.2.7/24 dev eth0");
    must("ip -n " + pod_ns + " link set eth0 mtu 1450 up");
    must("ip -n " + pod_ns + " link set lo up");
    must("ip -n " + pod_ns + " route add default via 10.244.2.1");

    must(shuttle_node.exec("sysctl -qw net.ipv4.ip_forward=0"));
    uint64_t remote_before =
        shuttle_node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE);
    CHECK(pings(a1, "10.244.2.7"));
    CHECK(pings("ip netns exec " + pod_ns + " ", a1.ip));
    CHECK(tcp_transfer(a1.netns, pod_ns, "10.244.2.7", "10M"));
    CHECK(tcp_transfer(pod_ns, a1.netns, a1.ip, "10M"));
    CHECK(shuttle_node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) - remote_before >=
          6);
    CHECK(shuttle_node.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_DECAP) >= 6);
    // The hosts too: flannel's <subnet>.0 and ours.
    CHECK(pings(flannel_node, a1.ip));
    CHECK(pings(shuttle_node, "10.244.2.7"));
}

TEST_CASE("routes follow set_routes: a withdrawn node is unreachable, then back", "[encap]") {
    TwoNodes cluster;
    SimPod a1 = cluster.add_pod(cluster.a(), "a1");
    SimPod b1 = cluster.add_pod(cluster.b(), "b1");
    cluster.forwarding_off();
    SimNode& a = cluster.a();
    REQUIRE(pings(a1, b1.ip, 2));

    a.datapath->set_routes({});
    CHECK(a.datapath->routes().empty());
    CHECK_FALSE(pings(a1, b1.ip, 2));
    CHECK_FALSE(pings(a, b1.ip, 2));
    CHECK(a.counted(SHUTTLE_VERDICT_DROP, SHUTTLE_DROP_NO_ROUTE) >= 2);

    a.datapath->set_routes({cluster.b().route()});
    CHECK(pings(a1, b1.ip, 2));
    CHECK(pings(a, b1.ip, 2));
}

TEST_CASE("a Service DNATed on the client's node reaches a backend on the other node", "[encap]") {
    TwoNodes cluster;
    SimPod a1 = cluster.add_pod(cluster.a(), "a1");
    SimPod b1 = cluster.add_pod(cluster.b(), "b1");
    SimNode& a = cluster.a();
    // The plugin turned forwarding on for the stack path, which a Service needs on the
    // client's node. kube-proxy (iptables mode) style: ClusterIP 10.96.0.10:80 -> b1:8080.
    must(
        a.exec("iptables -t nat -A PREROUTING -d 10.96.0.10/32 -p tcp --dport 80 -j DNAT "
               "--to-destination " +
               b1.ip + ":8080"));
    CHECK(tcp_transfer(a1.netns, b1.netns, b1.ip, "10M", "10.96.0.10", "8080", "80"));
    // The replies took the stack path on the client's node, so conntrack restored the
    // Service address: without that the client would have reset the connection.
    CHECK(a.counted(SHUTTLE_VERDICT_PASS, SHUTTLE_PASS_NAT_FLOW) > 0);
    // Direct pod-to-pod traffic of another pair keeps the fast path.
    SimPod a2 = cluster.add_pod(a, "a2");
    uint64_t before = a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE);
    CHECK(pings(a2, b1.ip, 2));
    CHECK(a.counted(SHUTTLE_VERDICT_REDIRECT, SHUTTLE_REDIRECT_REMOTE) - before >= 2);
}

TEST_CASE("an upgrade replaces the overlay programs in place, uninstall removes everything",
          "[encap]") {
    auto mode = GENERATE(dp::AttachMode::Tcx, dp::AttachMode::Tc);
    INFO("attach " << dp::to_string(mode));
    TwoNodes cluster(mode);
    SimPod a1 = cluster.add_pod(cluster.a(), "a1");
    SimPod b1 = cluster.add_pod(cluster.b(), "b1");
    SimNode& a = cluster.a();
    shuttle::UniqueFd node_fd = a.netns_fd();
    shuttle::netns::Guard inside(node_fd.get());

    auto overlay = a.datapath->overlay_attachment();
    REQUIRE(overlay);
    CHECK(overlay->attached);
    CHECK(overlay->mode == mode);
    CHECK(overlay->ifname == a.device.name);
    a.datapath->attach_overlay(a.device.index, a.device.name);  // idempotent
    CHECK(a.datapath->overlay_attachment()->attached);
    CHECK(programs_at(a.device.index, dp::Hook::Ingress) == 1);
    CHECK(programs_at(a.device.index, dp::Hook::Egress) == 1);

    // Another build: every program, the overlay's included, is swapped where it runs.
    shuttle_loader_state stale{};
    stale.build_hash = 42;
    stale.layout_version = SHUTTLE_LAYOUT_VERSION;
    dp::update(a.datapath->map_fd("loader"), uint32_t{0}, stale);
    uint32_t old_from_overlay = dp::prog_id(a.datapath->program_fd("from_overlay"));
    // ...whose pins predate route_slots (layout 1 as first released): the load creates it
    // and fills it from the routes hash.
    dp::unpin(a.bpffs_root() + "/v" + std::to_string(SHUTTLE_LAYOUT_VERSION) + "/maps/route_slots");
    dp::Node upgraded = dp::Node::ensure({a.bpffs_root(), mode});
    CHECK(upgraded.programs_loaded());
    CHECK(upgraded.maps_created());
    CHECK(dp::prog_id(upgraded.program_fd("from_overlay")) != old_from_overlay);
    CHECK(upgraded.overlay_attachment()->attached);  // runs the new programs
    CHECK(programs_at(a.device.index, dp::Hook::Ingress) == 1);
    CHECK(upgraded.routes().size() == 1);  // state survives
    CHECK(pings(a1, b1.ip, 2));
    CHECK(pings(a, b1.ip, 2));

    int pod_veth = 0;
    for (const auto& att : upgraded.attachments()) {
        CHECK(att.attached);
        pod_veth = att.ifindex;
    }
    REQUIRE(pod_veth > 0);
    REQUIRE(programs_at(pod_veth, dp::Hook::Ingress) == 1);
    a.datapath.reset();
    dp::Node::uninstall({a.bpffs_root(), mode});
    for (int ifindex : {a.device.index, pod_veth}) {
        CHECK(programs_at(ifindex, dp::Hook::Ingress) == 0);
        CHECK(programs_at(ifindex, dp::Hook::Egress) == 0);
    }
    CHECK_FALSE(dp::path_exists(a.bpffs_root()));
    CHECK_FALSE(pings(a1, b1.ip, 1));             // forwarding is on, but nothing encapsulates now
    dp::Node::uninstall({a.bpffs_root(), mode});  // again: nothing to do
    // And the node can start over.
    dp::Node fresh = dp::Node::ensure({a.bpffs_root(), mode});
    CHECK(fresh.maps_created());
}

TEST_CASE("set_routes keeps exactly the given set and refuses what cannot match", "[encap]") {
    TwoNodes cluster;
    dp::Node& node = *cluster.a().datapath;
    auto route = [](const char* subnet, const char* underlay, const char* mac, uint32_t vni = 1) {
        return dp::RemoteRoute{*IpPrefix::parse(subnet), *IpAddress::parse(underlay),
                               *shuttle::MacAddress::parse(mac), vni};
    };
    std::vector<dp::RemoteRoute> three = {
        route("10.244.2.0/24", "192.168.0.2", "0e:00:00:00:02:00"),
        route("10.244.3.0/24", "192.168.0.3", "0e:00:00:00:03:00"),
        route("10.244.4.0/24", "192.168.0.4", "0e:00:00:00:04:00")};
    node.set_routes(three);
    CHECK(node.routes() == three);

    std::vector<dp::RemoteRoute> changed = {
        route("10.244.3.0/24", "192.168.0.33", "0e:00:00:00:03:33", 2),  // moved node
        route("10.244.5.0/24", "192.168.0.5", "0e:00:00:00:05:00")};
    node.set_routes(changed);
    CHECK(node.routes() == changed);

    CHECK_THROWS_AS(node.set_routes({route("10.245.0.0/16", "192.168.0.9", "0e:00:00:00:09:00")}),
                    std::invalid_argument);
    CHECK_THROWS_AS(node.set_routes({route("10.244.1.0/24", "192.168.0.9", "0e:00:00:00:09:00")}),
                    std::invalid_argument);  // our own subnet
    CHECK_THROWS_AS(node.set_routes({route("10.244.7.0/24", "192.168.0.7", "0e:00:00:00:07:00"),
                                     route("10.244.7.0/24", "192.168.0.8", "0e:00:00:00:08:00")}),
                    std::invalid_argument);
    CHECK(node.routes() == changed);  // a refused set changes nothing

    node.set_routes({});
    CHECK(node.routes().empty());
}

TEST_CASE("set_routes6 keeps exactly the given IPv6 set, leaving out subnets over /64", "[encap]") {
    TwoNodes cluster;
    dp::Node& node = *cluster.a().datapath;
    auto route = [](const char* subnet, const char* underlay, const char* mac, uint32_t vni = 1) {
        return dp::RemoteRoute6{*IpPrefix::parse(subnet), *IpAddress::parse(underlay),
                                *IpAddress::parse("fd77::1"), *shuttle::MacAddress::parse(mac),
                                vni};
    };
    std::vector<dp::RemoteRoute6> two = {
        route("fd00:10:244:2::/64", "fd77::2", "0e:00:00:00:02:06"),
        route("fd00:10:244:3::/64", "fd77::3", "0e:00:00:00:03:06")};
    node.set_routes6(two);
    CHECK(node.routes6() == two);
    uint8_t key[12] = {0xfd, 0x00, 0x00, 0x10, 0x02, 0x44, 0x00, 0x02, 64, 0, 0, 0};
    shuttle_route6 value{};
    REQUIRE(bpf_map_lookup_elem(node.map_fd("routes6"), key, &value) == 0);  // the BPF key
    CHECK(value.vni == 1);
    CHECK(value.underlay_ip6[15] == 2);

    std::vector<dp::RemoteRoute6> changed = {
        route("fd00:10:244:3::/64", "fd77::33", "0e:00:00:00:03:33", 2),  // moved node
        route("fd00:10:244:5::/64", "fd77::5", "0e:00:00:00:05:06")};
    node.set_routes6(changed);
    CHECK(node.routes6() == changed);
    auto longer = changed;
    longer.push_back(route("fd00:10:244:6::/80", "fd77::6", "0e:00:00:00:06:06"));
    node.set_routes6(longer);
    CHECK(node.routes6() == changed);  // no key for a /80: the stack's route carries it
    CHECK_THROWS_AS(
        node.set_routes6({route("fd00:10:244:7::/64", "192.168.0.7", "0e:00:00:00:07:06")}),
        std::invalid_argument);
    CHECK(node.routes6() == changed);  // a refused set changes nothing
    node.set_routes6({});
    CHECK(node.routes6().empty());
}

TEST_CASE("open_existing reads pins of a build before the overlay", "[encap]") {
    enter_private_mount_namespace();
    char tmpl[] = "/tmp/shuttle-encap-old-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    std::string dir = tmpl;
    REQUIRE(mount("bpf", dir.c_str(), "bpf", 0, nullptr) == 0);
    {
        const std::string root = dir + "/shuttle";
        const std::string pins = root + "/v" + std::to_string(SHUTTLE_LAYOUT_VERSION);
        {
            dp::Node node = dp::Node::ensure({root, dp::AttachMode::Auto});
            node.set_pod_network(*IpPrefix::parse("10.244.1.0/24"), *IpAddress::parse("10.244.1.1"),
                                 kCluster);
            node.set_overlay(1, 1, *shuttle::MacAddress::parse("0e:00:00:00:01:00"),
                             *IpAddress::parse("192.168.0.1"));
        }
        for (const char* pin : {"/progs/from_overlay", "/progs/to_overlay", "/maps/route_slots"}) {
            dp::unpin(pins + pin);
        }
        // shuttlectl and the plugin's DEL/CHECK open what is there.
        dp::Node old = dp::Node::open_existing({root, dp::AttachMode::Auto});
        CHECK(old.routes().empty());
        CHECK(old.attachments().empty());
        auto overlay = old.overlay_attachment();
        REQUIRE(overlay);
        CHECK_FALSE(overlay->attached);
        CHECK(overlay->detail.find("older build") != std::string::npos);
        CHECK_THROWS(old.program_fd("from_overlay"));
        // The next ensure() completes them.
        dp::Node upgraded = dp::Node::ensure({root, dp::AttachMode::Auto});
        CHECK(upgraded.programs_loaded());
        CHECK_NOTHROW(
            dp::Node::open_existing({root, dp::AttachMode::Auto}).program_fd("to_overlay"));
    }
    umount2(dir.c_str(), MNT_DETACH);
    rmdir(dir.c_str());
}

// Not a pass/fail test: what keeping the routes map costs the agent. Run with
//   shuttle_integration_tests "[encap-bench]"
TEST_CASE("set_routes with 5,000 leases: first, unchanged, one changed", "[.][encap-bench]") {
    enter_private_mount_namespace();
    char tmpl[] = "/tmp/shuttle-encap-bench-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    std::string dir = tmpl;
    REQUIRE(mount("bpf", dir.c_str(), "bpf", 0, nullptr) == 0);
    {
        dp::Node node = dp::Node::ensure({dir + "/shuttle", dp::AttachMode::Auto});
        dp::NodeConfig cfg;
        cfg.node_subnet = *IpPrefix::parse("10.0.1.0/24");
        cfg.gateway = *IpAddress::parse("10.0.1.1");
        cfg.cluster_network = *IpPrefix::parse("10.0.0.0/8");
        node.set_config(cfg);
        std::vector<dp::RemoteRoute> routes;
        for (uint32_t i = 0; i < 5'000; ++i) {
            uint32_t subnet = (10u << 24) + ((i + 2) << 8);
            routes.push_back({IpPrefix{IpAddress::v4(subnet), 24}, IpAddress::v4(0xc0a80000 + i),
                              *shuttle::MacAddress::parse("0e:00:00:00:00:01"), 1});
        }
        auto timed = [&](const char* what) {
            auto start = std::chrono::steady_clock::now();
            node.set_routes(routes);
            auto ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
            std::printf("| set_routes, 5,000 leases, %s | %.1f ms |\n", what, ms);
        };
        std::printf("| call | time |\n|---|---|\n");
        timed("first");
        timed("unchanged");
        routes[42].underlay_ip = IpAddress::v4(0xc0a8ffff);
        timed("one changed");
        auto start = std::chrono::steady_clock::now();
        CHECK(node.routes().size() == 5'000);
        std::printf(
            "| routes(), 5,000 leases | %.1f ms |\n",
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count());
    }
    umount2(dir.c_str(), MNT_DETACH);
    rmdir(dir.c_str());
}
