#include <catch2/catch.hpp>

#include "agent/lease_value.h"
#include "agent/network_config.h"
#include "agent/peer_watcher.h"
#include "address_literals.h"

using namespace shuttle;
using namespace shuttle::agent;

namespace {}  // namespace

TEST_CASE("agent config: flannel's defaults") {
    auto config = parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}})");
    REQUIRE(config.network.str() == "10.244.0.0/16");
    REQUIRE(config.subnet_len == 24);
    REQUIRE(config.subnet_min.str() == "10.244.1.0");  // the first subnet is skipped
    REQUIRE(config.subnet_max.str() == "10.244.255.0");
    REQUIRE(config.vni == 1);
    REQUIRE(config.port == 8472);

    // Smaller than /22: the network is split in four.
    auto small = parse_network_config(R"({"Network":"10.1.2.0/24","Backend":{"Type":"vxlan"}})");
    REQUIRE(small.subnet_len == 26);
    REQUIRE(small.subnet_min.str() == "10.1.2.64");
    REQUIRE(small.subnet_max.str() == "10.1.2.192");
    auto edge = parse_network_config(R"({"Network":"10.8.0.0/22","Backend":{"Type":"vxlan"}})");
    REQUIRE(edge.subnet_len == 24);
}

TEST_CASE("agent config: keys match case-insensitively like Go's encoding/json") {
    auto config = parse_network_config(
        R"({"network":"10.0.0.0/8","subnetlen":20,"SUBNETMIN":"10.10.0.0","SubnetMax":"10.99.0.0",
            "backend":{"type":"VXLAN","vni":4097,"port":4789}})");
    REQUIRE(config.network.str() == "10.0.0.0/8");
    REQUIRE(config.subnet_len == 20);
    REQUIRE(config.subnet_min.str() == "10.10.0.0");
    REQUIRE(config.subnet_max.str() == "10.99.0.0");
    REQUIRE(config.vni == 4097);
    REQUIRE(config.port == 4789);
    // Host bits in Network are cleared, as Go's net.ParseCIDR does.
    REQUIRE(parse_network_config(R"({"Network":"10.244.3.4/16","Backend":{"Type":"vxlan"}})")
                .network.str() == "10.244.0.0/16");
}

TEST_CASE("agent config: errors name the field") {
    auto error_of = [](const std::string& text) {
        try {
            parse_network_config(text);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    using Catch::Matchers::StartsWith;
    REQUIRE_THAT(error_of("not json"), StartsWith("config:"));
    REQUIRE_THAT(error_of(R"({"Backend":{"Type":"vxlan"}})"), StartsWith("Network: missing"));
    REQUIRE_THAT(error_of(R"({"Network":"fd00::/64","Backend":{"Type":"vxlan"}})"),
                 StartsWith("Network:"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/29","Backend":{"Type":"vxlan"}})"),
                 StartsWith("Network:"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","SubnetLen":31,"Backend":{"Type":"vxlan"}})"),
                 StartsWith("SubnetLen:"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","SubnetLen":17,"Backend":{"Type":"vxlan"}})"),
                 StartsWith("SubnetLen:"));
    REQUIRE_THAT(
        error_of(R"({"Network":"10.0.0.0/16","SubnetLen":"24","Backend":{"Type":"vxlan"}})"),
        StartsWith("SubnetLen: must be an integer"));
    REQUIRE_THAT(
        error_of(R"({"Network":"10.0.0.0/16","SubnetMin":"10.1.0.0","Backend":{"Type":"vxlan"}})"),
        StartsWith("SubnetMin: 10.1.0.0 is not in Network"));
    REQUIRE_THAT(
        error_of(
            R"({"Network":"10.0.0.0/16","SubnetMax":"10.0.3.128","Backend":{"Type":"vxlan"}})"),
        StartsWith("SubnetMax: 10.0.3.128 is not on a /24"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","SubnetMin":"10.0.9.0","SubnetMax":"10.0.3.0",
                              "Backend":{"Type":"vxlan"}})"),
                 StartsWith("SubnetMin:"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16"})"), StartsWith("Backend.Type: missing"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","Backend":{"Type":"host-gw"}})"),
                 StartsWith("Backend.Type: \"host-gw\" is not supported"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","Backend":{"Type":"vxlan","VNI":16777216}})"),
                 StartsWith("Backend.VNI:"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","Backend":{"Type":"vxlan","Port":70000}})"),
                 StartsWith("Backend.Port:"));
    REQUIRE_THAT(
        error_of(R"({"Network":"10.0.0.0/16","EnableIPv6":true,"Backend":{"Type":"vxlan"}})"),
        StartsWith("IPv6Network: missing"));
}

TEST_CASE("agent config: dual-stack and IPv6-only with flannel's IPv6 defaults and checks") {
    using Catch::Matchers::StartsWith;
    auto dual = parse_network_config(R"({"Network":"10.244.0.0/16","EnableIPv6":true,
        "IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}})");
    REQUIRE(dual.enable_ipv4);
    REQUIRE(dual.enable_ipv6);
    REQUIRE(dual.ipv6_network.str() == "fd00:10:244::/56");
    REQUIRE(dual.ipv6_subnet_len == 64);
    REQUIRE(dual.ipv6_subnet_min.str() == "fd00:10:244:1::");  // the first subnet is skipped
    REQUIRE(dual.ipv6_subnet_max.str() == "fd00:10:244:ff::");

    auto small = parse_network_config(R"({"Network":"10.244.0.0/16","enableipv6":true,
        "ipv6network":"fd00::/120","Backend":{"Type":"vxlan"}})");
    REQUIRE(small.ipv6_subnet_len == 122);  // smaller than /62: split in four
    REQUIRE(small.ipv6_subnet_min.str() == "fd00::40");
    REQUIRE(small.ipv6_subnet_max.str() == "fd00::c0");

    auto bounds = parse_network_config(R"({"Network":"10.244.0.0/16","EnableIPv6":true,
        "IPv6Network":"fd00:10:244::/56","IPv6SubnetLen":60,"IPv6SubnetMin":"fd00:10:244:20::",
        "IPv6SubnetMax":"fd00:10:244:30::","Backend":{"Type":"vxlan"}})");
    REQUIRE(bounds.ipv6_subnet_len == 60);
    REQUIRE(bounds.ipv6_subnet_min.str() == "fd00:10:244:20::");

    auto v6_only = parse_network_config(R"({"EnableIPv4":false,"EnableIPv6":true,
        "IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}})");
    REQUIRE_FALSE(v6_only.enable_ipv4);
    REQUIRE(v6_only.network.str() == "0.0.0.0/0");  // flannel's empty IP4Net
    REQUIRE(v6_only.subnet_len == 0);

    auto error_of = [](const char* text) {
        try {
            parse_network_config(text);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    REQUIRE_THAT(error_of(R"({"EnableIPv4":false,"Backend":{"Type":"vxlan"}})"),
                 StartsWith("EnableIPv4: false needs EnableIPv6"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"10.1.0.0/16",
                              "Backend":{"Type":"vxlan"}})"),
                 StartsWith("IPv6Network: \"10.1.0.0/16\" is not an IPv6 CIDR"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/125",
                              "Backend":{"Type":"vxlan"}})"),
                 StartsWith("IPv6Network: fd00::/125 is too small"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/56",
                              "IPv6SubnetLen":127,"Backend":{"Type":"vxlan"}})"),
                 StartsWith("IPv6SubnetLen: /127 is longer than /126"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/56",
                              "IPv6SubnetLen":57,"Backend":{"Type":"vxlan"}})"),
                 StartsWith("IPv6SubnetLen: /57 leaves"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/56",
                              "IPv6SubnetMin":"fd01::","Backend":{"Type":"vxlan"}})"),
                 StartsWith("IPv6SubnetMin: fd01:: is not in IPv6Network fd00::/56"));
    REQUIRE_THAT(error_of(R"({"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/56",
                              "IPv6SubnetMax":"fd00:0:0:3::1","Backend":{"Type":"vxlan"}})"),
                 StartsWith("IPv6SubnetMax: fd00:0:0:3::1 is not on a /64"));
}

TEST_CASE("agent lease value: dual-stack and IPv6-only in flannel's exact bytes") {
    auto mac = *MacAddress::parse("c6:d2:32:6f:8f:44");
    auto mac6 = *MacAddress::parse("0e:11:22:33:44:55");
    auto dual = format_lease_value(*IpAddress::parse("192.168.64.3"), 1, mac,
                                   LeaseV6{*IpAddress::parse("fd77::3"), mac6});
    REQUIRE(
        dual ==
        R"({"PublicIP":"192.168.64.3","PublicIPv6":"fd77::3","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"},"BackendV6Data":{"VNI":1,"VtepMAC":"0e:11:22:33:44:55"}})");
    auto attrs = parse_lease_value(dual);
    REQUIRE(attrs->public_ipv6->str() == "fd77::3");
    REQUIRE(attrs->vtep_mac_v6 == mac6);
    REQUIRE(attrs->vni_v6 == 1);

    auto v6_only = format_lease_value(IpAddress::v4(0), 1, std::nullopt,
                                      LeaseV6{*IpAddress::parse("fd77::3"), mac6});
    REQUIRE(
        v6_only ==
        R"({"PublicIP":"0.0.0.0","PublicIPv6":"fd77::3","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"0e:11:22:33:44:55"}})");
    REQUIRE_FALSE(parse_lease_value(v6_only)->vtep_mac);

    auto odd = parse_lease_value(
        R"({"PublicIP":"10.0.0.1","PublicIPv6":"10.0.0.2","BackendV6Data":{"VtepMAC":"zz"}})");
    REQUIRE(odd);
    REQUIRE_FALSE(odd->public_ipv6);  // not an IPv6 address
    REQUIRE_FALSE(odd->vtep_mac_v6);
}

TEST_CASE("agent subnet keys with an IPv6 part, IPv6 subnet fit and free IPv6 subnets") {
    REQUIRE(subnet_key_name(prefix("10.244.1.0/24"), prefix("fd00:10:244:1::/64")) ==
            "10.244.1.0-24&fd00:10:244:1::-64");
    REQUIRE(subnet_key_name(prefix("0.0.0.0/0"), prefix("fd00:10:244:1::/64")) ==
            "0.0.0.0-0&fd00:10:244:1::-64");
    auto key = parse_subnet_key("10.244.1.0-24&fd00:10:244:1::-64");
    REQUIRE(key->ipv4 == prefix("10.244.1.0/24"));
    REQUIRE(key->ipv6 == prefix("fd00:10:244:1::/64"));
    REQUIRE_FALSE(parse_subnet_key("10.244.1.0-24")->ipv6);
    REQUIRE_FALSE(parse_subnet_key("10.244.1.0-24&fd00:10:244:1::5-64"));  // host bits
    REQUIRE_FALSE(parse_subnet_key("10.244.1.0-24&fd00::-129"));
    REQUIRE_FALSE(parse_subnet_key("10.244.1.0-24&10.0.0.0-8"));

    auto config = parse_network_config(R"({"Network":"10.244.0.0/16","EnableIPv6":true,
        "IPv6Network":"fd00::/62","Backend":{"Type":"vxlan"}})");
    REQUIRE(ipv6_subnet_fits(config, prefix("fd00:0:0:1::/64")));
    REQUIRE(ipv6_subnet_fits(config, prefix("fd00:0:0:3::/64")));
    REQUIRE_FALSE(ipv6_subnet_fits(config, prefix("fd00::/64")));  // below IPv6SubnetMin
    REQUIRE_FALSE(ipv6_subnet_fits(config, prefix("fd00:0:0:1::/65")));
    REQUIRE_FALSE(ipv6_subnet_fits(config, std::nullopt));
    auto v4_only =
        parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}})");
    REQUIRE(ipv6_subnet_fits(v4_only, std::nullopt));
    REQUIRE_FALSE(ipv6_subnet_fits(v4_only, prefix("fd00:0:0:1::/64")));
    auto free = free_ipv6_subnets(config, {prefix("fd00:0:0:2::/64")});
    REQUIRE(free == std::vector<IpPrefix>{prefix("fd00:0:0:1::/64"), prefix("fd00:0:0:3::/64")});
    REQUIRE(free_ipv6_subnets(v4_only, {}).empty());
}

TEST_CASE("agent peers carry the IPv6 half of dual-stack leases, IPv6-only peers by PublicIPv6") {
    const std::string dir = "/coreos.com/network/subnets/";
    auto kv = [&](const std::string& name, const std::string& value) {
        return std::pair{dir + name, etcd::KeyValue{dir + name, value, 1, 1, 1, 0}};
    };
    auto mac = [](int i) { return *MacAddress::parse("02:00:00:00:00:0" + std::to_string(i)); };
    auto dual_lease = [&](int i) {
        return format_lease_value(*IpAddress::parse("192.0.2." + std::to_string(i)), 1, mac(i),
                                  LeaseV6{*IpAddress::parse("fd77::" + std::to_string(i)), mac(i)});
    };
    auto dual = parse_network_config(R"({"Network":"10.244.0.0/16","EnableIPv6":true,
        "IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}})");
    etcd::PrefixSync::Snapshot snapshot = {
        kv("10.244.1.0-24&fd00:10:244:1::-64", dual_lease(1)),  // ours
        kv("10.244.2.0-24&fd00:10:244:2::-64", dual_lease(2)),
        kv("10.244.3.0-24", format_lease_value(*IpAddress::parse("192.0.2.3"), 1, mac(3))),
        kv("10.244.4.0-24&fd00:99::-64", dual_lease(4)),  // IPv6 part outside IPv6Network
    };
    auto peers =
        peers_from_snapshot(snapshot, dir, dual,
                            {prefix("10.244.1.0/24"), prefix("fd00:10:244:1::/64"),
                             *IpAddress::parse("192.0.2.1"), *IpAddress::parse("fd77::1")});
    REQUIRE(peers.size() == 3);
    auto& two = peers.at(prefix("10.244.2.0/24"));
    REQUIRE(two.ipv6_subnet == prefix("fd00:10:244:2::/64"));
    REQUIRE(two.public_ipv6->str() == "fd77::2");
    REQUIRE(two.vtep_mac_v6 == mac(2));
    REQUIRE_FALSE(peers.at(prefix("10.244.3.0/24")).ipv6_subnet);  // an IPv4-only node
    REQUIRE_FALSE(peers.at(prefix("10.244.4.0/24")).ipv6_subnet);

    auto v6_only = parse_network_config(R"({"EnableIPv4":false,"EnableIPv6":true,
        "IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}})");
    auto v6_lease = [&](int i) {
        return format_lease_value(IpAddress::v4(0), 1, std::nullopt,
                                  LeaseV6{*IpAddress::parse("fd77::" + std::to_string(i)), mac(i)});
    };
    etcd::PrefixSync::Snapshot six = {
        kv("0.0.0.0-0&fd00:10:244:1::-64", v6_lease(1)),  // ours
        kv("0.0.0.0-0&fd00:10:244:2::-64", v6_lease(2)),
        kv("0.0.0.0-0&fd00:10:244:3::-64", v6_lease(3)),
    };
    peers = peers_from_snapshot(six, dir, v6_only,
                                {prefix("0.0.0.0/0"), prefix("fd00:10:244:1::/64"),
                                 IpAddress::v4(0), *IpAddress::parse("fd77::1")});
    REQUIRE(peers.size() == 2);  // every node writes PublicIP 0.0.0.0: told apart by PublicIPv6
    REQUIRE(peers.at(prefix("fd00:10:244:3::/64")).public_ipv6->str() == "fd77::3");
}

TEST_CASE("agent lease value is flannel's exact JSON, peers' values are parsed tolerantly") {
    auto value = format_lease_value(*IpAddress::parse("192.168.64.3"), 1,
                                    *MacAddress::parse("c6:d2:32:6f:8f:44"));
    REQUIRE(
        value ==
        R"({"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}})");
    auto attrs = parse_lease_value(value);
    REQUIRE(attrs);
    REQUIRE(attrs->public_ip.str() == "192.168.64.3");
    REQUIRE(attrs->backend_type == "vxlan");
    REQUIRE(attrs->vni == 1);
    REQUIRE(attrs->vtep_mac->str() == "c6:d2:32:6f:8f:44");

    REQUIRE_FALSE(parse_lease_value("before"));
    REQUIRE_FALSE(parse_lease_value(R"({"PublicIP":7})"));
    auto udp = parse_lease_value(R"({"PublicIP":"10.0.0.1","BackendType":"udp"})");
    REQUIRE(udp);
    REQUIRE_FALSE(udp->vtep_mac);
}

TEST_CASE("agent subnet keys in flannel's form") {
    REQUIRE(subnet_key_name(prefix("10.244.1.0/24")) == "10.244.1.0-24");
    REQUIRE(parse_subnet_key_name("10.244.1.0-24") == prefix("10.244.1.0/24"));
    REQUIRE(parse_subnet_key_name("10.244.1.0-24&fd00:1::-64") == prefix("10.244.1.0/24"));
    REQUIRE_FALSE(parse_subnet_key_name("10.244.1.5-24"));  // host bits set
    REQUIRE_FALSE(parse_subnet_key_name("10.244.1.0-33"));
    REQUIRE_FALSE(parse_subnet_key_name("10.244.1.0"));
    REQUIRE_FALSE(parse_subnet_key_name("garbage-24"));
}

TEST_CASE("agent subnet picking: fits, free ones in order, at most the limit") {
    auto config = parse_network_config(
        R"({"Network":"10.5.0.0/16","SubnetMin":"10.5.2.0","SubnetMax":"10.5.6.0",
            "Backend":{"Type":"vxlan"}})");
    REQUIRE(subnet_fits(config, prefix("10.5.2.0/24")));
    REQUIRE(subnet_fits(config, prefix("10.5.6.0/24")));
    REQUIRE_FALSE(subnet_fits(config, prefix("10.5.1.0/24")));  // below SubnetMin
    REQUIRE_FALSE(subnet_fits(config, prefix("10.5.7.0/24")));  // above SubnetMax
    REQUIRE_FALSE(subnet_fits(config, prefix("10.5.2.0/25")));  // wrong length
    REQUIRE_FALSE(subnet_fits(config, prefix("10.6.2.0/24")));

    std::set<IpPrefix> taken = {prefix("10.5.2.0/24"), prefix("10.5.4.0/24")};
    auto free = free_subnets(config, taken);
    REQUIRE(free == std::vector<IpPrefix>{prefix("10.5.3.0/24"), prefix("10.5.5.0/24"),
                                          prefix("10.5.6.0/24")});
    REQUIRE(free_subnets(config, taken, 2).size() == 2);
    taken.insert(free.begin(), free.end());
    REQUIRE(free_subnets(config, taken).empty());

    auto big = parse_network_config(R"({"Network":"10.0.0.0/8","Backend":{"Type":"vxlan"}})");
    auto first = free_subnets(big, {});
    REQUIRE(first.size() == 100);
    REQUIRE(first.front() == prefix("10.0.1.0/24"));
    REQUIRE(first.back() == prefix("10.0.100.0/24"));
    // The very last subnet of a network that ends at 255.255.255.255 does not wrap around.
    auto top = parse_network_config(R"({"Network":"255.255.255.0/24","Backend":{"Type":"vxlan"}})");
    REQUIRE(free_subnets(top, {}).back() == prefix("255.255.255.192/26"));
}

TEST_CASE("agent random VtepMAC is unicast and locally administered") {
    auto mac = random_vtep_mac();
    REQUIRE((mac.bytes[0] & 0x01) == 0);
    REQUIRE((mac.bytes[0] & 0x02) == 0x02);
    REQUIRE(random_vtep_mac() != mac);
}

TEST_CASE("agent peers from a snapshot skip our own, foreign and broken leases") {
    auto config = parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}})");
    const std::string dir = "/coreos.com/network/subnets/";
    auto kv = [&](const std::string& name, const std::string& value) {
        return std::pair{dir + name, etcd::KeyValue{dir + name, value, 1, 1, 1, 0}};
    };
    auto lease = [](const char* ip, const char* mac, int vni) {
        return format_lease_value(*IpAddress::parse(ip), vni, *MacAddress::parse(mac));
    };
    etcd::PrefixSync::Snapshot snapshot = {
        kv("10.244.1.0-24", lease("192.0.2.1", "02:00:00:00:00:01", 1)),  // ours
        kv("10.244.2.0-24", lease("192.0.2.2", "02:00:00:00:00:02", 1)),
        kv("10.244.3.0-24", lease("192.0.2.3", "02:00:00:00:00:03", 7)),
        kv("10.244.4.0-24", R"({"PublicIP":"192.0.2.4","BackendType":"udp"})"),
        kv("10.244.5.0-24", "before"),
        kv("10.9.6.0-24", lease("192.0.2.6", "02:00:00:00:00:06", 1)),    // outside Network
        kv("10.244.7.0-24", lease("192.0.2.1", "02:00:00:00:00:07", 1)),  // our IP, stale
        kv("not-a-subnet", lease("192.0.2.8", "02:00:00:00:00:08", 1)),
    };
    auto peers = peers_from_snapshot(
        snapshot, dir, config, {prefix("10.244.1.0/24"), {}, *IpAddress::parse("192.0.2.1"), {}});
    REQUIRE(peers.size() == 2);
    auto& two = peers.at(prefix("10.244.2.0/24"));
    REQUIRE(two.public_ip.str() == "192.0.2.2");
    REQUIRE(two.vtep_mac.str() == "02:00:00:00:00:02");
    REQUIRE(two.vni == 1);
    REQUIRE(peers.at(prefix("10.244.3.0/24")).vni == 7);
}
