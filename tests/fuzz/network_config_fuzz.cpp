// flannel's network config (<prefix>/config in etcd, or a static file): parse or
// std::invalid_argument; what parses is consistent (SubnetMin..SubnetMax inside Network).
#include <stdexcept>

#include "agent/network_config.h"
#include "fuzz_input.h"

using namespace shuttle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    agent::NetworkConfig config;
    try {
        config = agent::parse_network_config(std::string(fuzz::as_text(data, size)));
    } catch (const std::invalid_argument&) {
        return 0;
    }
    if (!config.network.contains(config.subnet_min) || !config.network.contains(config.subnet_max))
        fuzz::broken("SubnetMin/SubnetMax outside Network");
    if (config.subnet_len < config.network.length || config.subnet_len > 32)
        fuzz::broken("SubnetLen outside Network's length..32");
    return 0;
}
