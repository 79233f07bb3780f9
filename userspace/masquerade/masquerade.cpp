#include "masquerade/masquerade.h"

#include <nftables/libnftables.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "masquerade/nftables_library.h"

namespace shuttle::masquerade {

namespace {

using nlohmann::json;

const char* multicast(int family) {
    return family == AF_INET6 ? "ff00::/8" : "224.0.0.0/4";
}

// The nft family and the address match keyword: "ip" or "ip6".
const char* nft_family(int family) {
    return family == AF_INET6 ? "ip6" : "ip";
}
const char* const kPodToClusterComment = "pod to cluster: keep pod addresses";

// One libnftables context, opened in (and bound to) the calling thread's namespace, with
// output and errors captured in buffers.
class Nft {
  public:
    explicit Nft(bool json_output = false)
        : nft_(nftables()), ctx_(nft_.ctx_new(NFT_CTX_DEFAULT), nft_.ctx_free) {
        if (!ctx_) {
            throw Error("nft: cannot create a libnftables context");
        }
        if (json_output) {
            nft_.ctx_output_set_flags(ctx_.get(), NFT_CTX_OUTPUT_JSON);
        }
        nft_.ctx_buffer_output(ctx_.get());
        nft_.ctx_buffer_error(ctx_.get());
    }

    // Runs `commands` as one transaction; returns nft's output.
    std::string run(const std::string& commands, const std::string& what) {
        if (nft_.run_cmd_from_buffer(ctx_.get(), commands.c_str()) != 0) {
            throw Error(what + ": " + trim(nft_.ctx_get_error_buffer(ctx_.get())));
        }
        return nft_.ctx_get_output_buffer(ctx_.get());
    }

  private:
    static std::string trim(const char* text) {
        std::string s = text ? text : "";
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
            s.pop_back();
        }
        return s.empty() ? "(no message)" : s;
    }

    const NftablesLibrary& nft_;
    std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx_;
};

void validate(const Config& config) {
    const auto& cluster = config.cluster_network;
    const auto& node = config.node_subnet;
    if (cluster.address.empty() || cluster.address.family != node.address.family) {
        throw std::invalid_argument(
            "masquerade: cluster network and node subnet must be of one family");
    }
    if (!cluster.contains(node)) {
        throw std::invalid_argument("masquerade: node subnet " + node.str() +
                                    " is outside the cluster network " + cluster.str());
    }
}

std::string rule(const std::string& match, const std::string& verdict, const std::string& comment) {
    return "\t\t" + match + " " + verdict + " comment \"" + comment + "\"\n";
}

bool table_exists(Nft& nft, int family) {
    std::string list = std::string("list tables ") + nft_family(family);
    json listing = parse_json(nft.run(list, "nft " + list));
    for (const auto& item : listing.value("nftables", json::array())) {
        if (item.contains("table") && item["table"].value("name", "") == kTableName) {
            return true;
        }
    }
    return false;
}

// {"prefix": {"addr": "10.244.0.0", "len": 16}} → 10.244.0.0/16
std::optional<IpPrefix> prefix_of(const json& right) {
    if (!right.is_object() || !right.contains("prefix")) {
        return std::nullopt;
    }
    const auto& p = right["prefix"];
    return IpPrefix::parse(p.value("addr", "") + "/" + std::to_string(p.value("len", -1)));
}

// The node subnet and cluster network from the pod → cluster rule's two matches.
std::optional<Config> config_from_rule(const json& expr) {
    std::optional<IpPrefix> source, destination;
    for (const auto& item : expr) {
        if (!item.contains("match")) {
            continue;
        }
        const auto& match = item["match"];
        std::string field = match["left"].value("payload", json::object()).value("field", "");
        if (field == "saddr") {
            source = prefix_of(match["right"]);
        } else if (field == "daddr") {
            destination = prefix_of(match["right"]);
        }
    }
    if (!source || !destination) {
        return std::nullopt;
    }
    return Config{.cluster_network = *destination, .node_subnet = *source};
}

}  // namespace

std::string table_ref(int family) {
    return std::string(nft_family(family)) + " " + kTableName;
}

Config plugin_config(const IpPrefix& node_subnet, const std::optional<IpPrefix>& cluster_network) {
    return {.cluster_network = cluster_network.value_or(node_subnet).network(),
            .node_subnet = node_subnet.network()};
}

std::string table_text(const Config& config) {
    validate(config);
    const std::string cluster = config.cluster_network.network().str();
    const std::string node = config.node_subnet.network().str();
    const std::string ip = nft_family(config.family());
    char mark[32];
    std::snprintf(mark, sizeof mark, "0x%08x", kKubeProxyMark);

    std::string text = "table " + table_ref(config.family()) + " {\n";
    text += "\tcomment \"shuttle masquerade: cluster " + cluster + ", node subnet " + node + "\"\n";
    text += "\tchain " + std::string(kChainName) + " {\n";
    text += "\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
    text += rule("meta mark & " + std::string(mark) + " == " + mark, "return",
                 "kube-proxy marked: kube-proxy masquerades it");
    text += rule(ip + " saddr " + node + " " + ip + " daddr " + cluster, "return",
                 kPodToClusterComment);
    text +=
        rule(ip + " saddr " + cluster + " " + ip + " daddr " + node, "return", "cluster to pod");
    text += rule(ip + " saddr != " + cluster + " " + ip + " daddr " + node, "return",
                 "outside to pod: keep the client address");
    text += rule(ip + " saddr " + cluster + " " + ip + " daddr != " + multicast(config.family()),
                 "masquerade fully-random", "pod to outside: masquerade, except multicast");
    text += rule(ip + " saddr != " + cluster + " " + ip + " daddr " + cluster,
                 "masquerade fully-random", "host to cluster: masquerade");
    text += "\t}\n}\n";
    return text;
}

std::string ensure_script(const Config& config) {
    // Declaring the table first makes the delete valid when it is absent; all three
    // commands are one batch, so the kernel applies them as one transaction.
    auto table = table_ref(config.family());
    return "table " + table + "\ndelete table " + table + "\n" + table_text(config);
}

void ensure(const Config& config) {
    std::string script = ensure_script(config);
    Nft nft;
    nft.run(script, "nft: install table " + table_ref(config.family()));
}

bool remove(int family) {
    Nft nft(true);
    if (!table_exists(nft, family)) {
        return false;
    }
    Nft plain;
    auto table = table_ref(family);
    plain.run("table " + table + "\ndelete table " + table + "\n", "nft: delete table " + table);
    return true;
}

bool is_installed(const Config& config) {
    std::string wanted = table_text(config);
    Nft json_nft(true);
    if (!table_exists(json_nft, config.family())) {
        return false;
    }
    Nft nft;
    auto table = table_ref(config.family());
    return nft.run("list table " + table, "nft list table " + table) == wanted;
}

Status parse_listing(const std::string& text) {
    Status status;
    json listing = parse_json(text);
    for (const auto& item : listing.value("nftables", json::array())) {
        if (item.contains("table") && item["table"].value("name", "") == kTableName) {
            status.installed = true;
        } else if (item.contains("chain") && item["chain"].value("name", "") == kChainName) {
            const auto& chain = item["chain"];
            status.chain_type = chain.value("type", "");
            status.chain_hook = chain.value("hook", "");
            status.chain_priority = chain.value("prio", 0);
        } else if (item.contains("rule")) {
            const auto& r = item["rule"];
            Rule parsed{.comment = r.value("comment", ""),
                        .expr_json = dump_json(r.value("expr", json::array()))};
            if (parsed.comment == kPodToClusterComment) {
                status.config = config_from_rule(r["expr"]);
            }
            status.rules.push_back(std::move(parsed));
        }
    }
    return status;
}

Status inspect(int family) {
    Nft nft(true);
    if (!table_exists(nft, family)) {
        return {};
    }
    auto table = table_ref(family);
    return parse_listing(nft.run("list table " + table, "nft list table " + table));
}

std::string describe(int family) {
    Status status = inspect(family);
    std::string text = "table " + table_ref(family) + ": ";
    if (!status.installed) {
        return text + "not installed";
    }
    text += std::to_string(status.rules.size()) + " rules";
    if (status.config) {
        text += " (cluster " + status.config->cluster_network.str() + ", node subnet " +
                status.config->node_subnet.str() + ")";
    }
    return text;
}

}  // namespace shuttle::masquerade
