#include "agent/flags.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace shuttle::agent {

const std::vector<FlagSpec>& flag_specs() {
    static const std::vector<FlagSpec> specs = {
        {"etcd-endpoints", "http://127.0.0.1:4001,http://127.0.0.1:2379", false,
         "etcd client URLs, comma-separated; the next one is tried on transport errors"},
        {"etcd-cafile", "", false, "TLS: CA certificate that signed etcd's server certificate"},
        {"etcd-certfile", "", false, "TLS: client certificate"},
        {"etcd-keyfile", "", false, "TLS: client key"},
        {"etcd-prefix", "/coreos.com/network", false, "flannel's etcd prefix"},
        {"public-ip", "", false,
         "IPv4 address other nodes reach this node at (the lease's PublicIP)"},
        {"public-ipv6", "", false,
         "IPv6 address other nodes reach this node at (the lease's PublicIPv6, used when the "
         "network config has EnableIPv6); default: the underlay's first global IPv6 address"},
        {"iface", "", false,
         "underlay interface (its IPv4 and IPv6 addresses and MTU); default: the default "
         "route's"},
        {"subnet-file", "/run/flannel/subnet.env", false, "where to write flannel's subnet.env"},
        {"ip-masq", "false", true,
         "masquerade pod traffic leaving the network (nftables table ip shuttle; "
         "subnet.env then says FLANNEL_IPMASQ=true)"},
        {"bpffs-root", "/sys/fs/bpf/shuttle", false, "pin root of the datapath"},
        {"overlay", "direct", false,
         "cross-node path: direct = the eBPF programs encapsulate and decapsulate VXLAN "
         "themselves (a program on --iface's ingress); device = every packet through the "
         "kernel VXLAN device shuttle.<VNI>. direct falls back to device when --iface is "
         "not Ethernet or the program cannot be attached there (said in the log and /readyz)"},
        {"datapath", "true", true,
         "own the datapath (programs, VXLAN device, routes, masquerade, conflist); false = "
         "lease, subnet.env and peer watch only"},
        {"adopt-flannel-pods", "true", true,
         "migration: move pods that flannel's bridge plugin wired to cni0 onto the datapath "
         "(their veths leave cni0, which is deleted once empty)"},
        {"cni-conf-dir", "/etc/cni/net.d", false,
         "where the CNI conflist 10-shuttle.conflist is written once the node is ready "
         "(\"\" = do not write it)"},
        {"subnet-lease-ttl", "24h", false, "TTL of the subnet lease (a bare number is seconds)"},
        {"subnet-lease-renew-margin", "60", false,
         "renew this long before the lease expires (a bare number is minutes, as flannel)"},
        {"static-nodes", "", false,
         "JSON file [{subnet,PublicIP,VtepMAC,VNI}] instead of etcd; this node is the entry "
         "with its PublicIP, re-read when it changes"},
        {"healthz-addr", "127.0.0.1:9465", false, "address of /healthz and /readyz"},
        {"cleanup", "false", true,
         "uninstall and exit: detach and unpin the datapath, delete the VXLAN device and the "
         "nftables table; the lease, subnet.env and the IP store stay (back to flannel)"},
    };
    return specs;
}

std::string env_name(const std::string& flag) {
    std::string name = "SHUTTLED_";
    for (char c : flag) {
        name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return name;
}

std::map<std::string, std::string> parse_flags(int argc, char** argv) {
    std::map<std::string, std::string> values;
    std::map<std::string, const FlagSpec*> by_name;
    for (const auto& spec : flag_specs()) {
        by_name[spec.name] = &spec;
        values[spec.name] = spec.default_value;
        if (const char* env = std::getenv(env_name(spec.name).c_str())) {
            values[spec.name] = env;
        }
    }
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind("--", 0) != 0) {
            throw std::invalid_argument("unexpected argument: " + arg);
        }
        auto eq = arg.find('=');
        std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
        auto spec = by_name.find(name);
        if (spec == by_name.end()) {
            throw std::invalid_argument("unknown flag --" + name + " (see --help)");
        }
        if (eq != std::string::npos) {
            values[name] = arg.substr(eq + 1);
        } else if (spec->second->boolean) {
            values[name] = "true";
        } else if (i + 1 < argc) {
            values[name] = argv[++i];
        } else {
            throw std::invalid_argument("--" + name + " needs a value");
        }
    }
    return values;
}

std::string usage() {
    std::string text =
        "usage: shuttled [flags]\n\n"
        "shuttle's node agent: leases this node's pod subnet from etcd exactly as flanneld\n"
        "does, writes subnet.env, and follows the other nodes' leases.\n\n"
        "flags (each also as the environment variable shown; the command line wins):\n";
    for (const auto& spec : flag_specs()) {
        text += "  --" + spec.name + (spec.boolean ? "[=true|false]" : " VALUE") + "\n      " +
                spec.help + "\n      env " + env_name(spec.name) +
                (spec.default_value.empty() ? "" : ", default " + spec.default_value) + "\n";
    }
    text += "  --help, --version\n";
    return text;
}

std::chrono::seconds parse_duration(const std::string& flag, const std::string& text,
                                    int bare_unit_seconds) {
    auto bad = [&] {
        return std::invalid_argument("--" + flag + ": \"" + text +
                                     "\" is not a duration like 24h, 90m, 1h30m or 10s");
    };
    if (text.empty()) {
        throw bad();
    }
    int64_t bare = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bare);
    if (ec == std::errc() && end == text.data() + text.size()) {
        if (bare < 0) {
            throw bad();
        }
        return std::chrono::seconds(bare * bare_unit_seconds);
    }
    int64_t millis = 0;
    const char* p = text.data();
    const char* last = text.data() + text.size();
    while (p < last) {
        int64_t number = 0;
        auto [next, error] = std::from_chars(p, last, number);
        if (error != std::errc() || next == last || number < 0) {
            throw bad();
        }
        p = next;
        if (last - p >= 2 && p[0] == 'm' && p[1] == 's') {
            millis += number;
            p += 2;
        } else if (*p == 'h') {
            millis += number * 3600000;
            ++p;
        } else if (*p == 'm') {
            millis += number * 60000;
            ++p;
        } else if (*p == 's') {
            millis += number * 1000;
            ++p;
        } else {
            throw bad();
        }
    }
    return std::chrono::seconds(millis / 1000);
}

bool parse_bool(const std::string& flag, const std::string& text) {
    if (text == "true" || text == "1") {
        return true;
    }
    if (text == "false" || text == "0" || text.empty()) {
        return false;
    }
    throw std::invalid_argument("--" + flag + ": \"" + text + "\" is not true or false");
}

}  // namespace shuttle::agent
