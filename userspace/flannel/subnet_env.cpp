#include "flannel/subnet_env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "common/system_error.h"
#include "common/unique_fd.h"

namespace shuttle::flannel {
namespace {

std::map<std::string, std::string> parse_lines(const std::string& text) {
    std::map<std::string, std::string> values;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        auto eq = line.find('=');
        if (line.empty() || line[0] == '#' || eq == std::string::npos) {
            continue;
        }
        values[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return values;
}

const std::string& require(const std::map<std::string, std::string>& values,
                           const std::string& key) {
    auto it = values.find(key);
    if (it == values.end()) {
        throw std::invalid_argument("subnet.env is missing " + key);
    }
    return it->second;
}

// nullopt when the key is absent; a value of the wrong family is bad.
std::optional<IpPrefix> optional_prefix(const std::map<std::string, std::string>& values,
                                        const std::string& key, int family) {
    auto it = values.find(key);
    if (it == values.end())
        return std::nullopt;
    const auto& text = it->second;
    // The networks may list several prefixes separated by commas; the first is used.
    auto prefix = IpPrefix::parse(text.substr(0, text.find(',')));
    if (!prefix || prefix->address.family != family) {
        throw std::invalid_argument("subnet.env has a bad " + key + ": " + text);
    }
    return prefix;
}

// flannel's CNI plugin needs a network and a subnet of either family; an IPv4 network
// without its subnet (or the reverse) is as broken as none.
void require_pair(const std::optional<IpPrefix>& network, const std::optional<IpPrefix>& subnet,
                  const char* network_key, const char* subnet_key) {
    if (network && !subnet)
        throw std::invalid_argument(std::string("subnet.env is missing ") + subnet_key);
    if (subnet && !network)
        throw std::invalid_argument(std::string("subnet.env is missing ") + network_key);
}

}  // namespace

SubnetEnv parse_subnet_env(const std::string& text) {
    auto values = parse_lines(text);
    SubnetEnv env;
    auto network = optional_prefix(values, "FLANNEL_NETWORK", AF_INET);
    auto subnet = optional_prefix(values, "FLANNEL_SUBNET", AF_INET);
    env.ipv6_network = optional_prefix(values, "FLANNEL_IPV6_NETWORK", AF_INET6);
    env.ipv6_subnet = optional_prefix(values, "FLANNEL_IPV6_SUBNET", AF_INET6);
    if (!env.ipv6_network && !env.ipv6_subnet) {
        require(values, "FLANNEL_NETWORK");
        require(values, "FLANNEL_SUBNET");
    }
    require_pair(network, subnet, "FLANNEL_NETWORK", "FLANNEL_SUBNET");
    require_pair(env.ipv6_network, env.ipv6_subnet, "FLANNEL_IPV6_NETWORK", "FLANNEL_IPV6_SUBNET");
    if (network) {
        env.network = *network;
        env.subnet = *subnet;
    }
    const auto& mtu = require(values, "FLANNEL_MTU");
    auto [end, ec] = std::from_chars(mtu.data(), mtu.data() + mtu.size(), env.mtu);
    if (ec != std::errc() || end != mtu.data() + mtu.size() || env.mtu < 68) {
        throw std::invalid_argument("subnet.env has a bad FLANNEL_MTU: " + mtu);
    }
    const auto& masq = require(values, "FLANNEL_IPMASQ");
    if (masq != "true" && masq != "false") {
        throw std::invalid_argument("subnet.env has a bad FLANNEL_IPMASQ: " + masq);
    }
    env.ip_masq = masq == "true";
    return env;
}

std::optional<SubnetEnv> read_subnet_env(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw_errno("read " + path);
    }
    std::stringstream text;
    text << in.rdbuf();
    return parse_subnet_env(text.str());
}

std::string format_subnet_env(const SubnetEnv& env) {
    std::string text;
    if (env.has_ipv4())
        text +=
            "FLANNEL_NETWORK=" + env.network.str() + "\nFLANNEL_SUBNET=" + env.subnet.str() + "\n";
    if (env.ipv6_network && env.ipv6_subnet) {
        text += "FLANNEL_IPV6_NETWORK=" + env.ipv6_network->str() +
                "\nFLANNEL_IPV6_SUBNET=" + env.ipv6_subnet->str() + "\n";
    }
    return text + "FLANNEL_MTU=" + std::to_string(env.mtu) +
           "\nFLANNEL_IPMASQ=" + (env.ip_masq ? "true" : "false") + "\n";
}

void write_subnet_env(const std::string& path, const SubnetEnv& env) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    std::string text = format_subnet_env(env);
    {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) {
            throw_errno("create " + tmp);
        }
        ::fchmod(fd.get(), 0644);
        if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
            ::fsync(fd.get()) != 0) {
            int err = errno;
            ::unlink(tmp.c_str());
            throw system_error(err, "write " + tmp);
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw system_error(err, "rename " + tmp + " to " + path);
    }
}

}  // namespace shuttle::flannel
