// flannel's subnet.env as the plugin and the agent read it: parse or std::invalid_argument;
// what parses formats to text that parses to the same values.
#include <stdexcept>

#include "flannel/subnet_env.h"
#include "fuzz_input.h"

using namespace shuttle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    flannel::SubnetEnv env;
    try {
        env = flannel::parse_subnet_env(std::string(fuzz::as_text(data, size)));
    } catch (const std::invalid_argument&) {
        return 0;
    }
    auto again = flannel::parse_subnet_env(flannel::format_subnet_env(env));
    if (again.network != env.network || again.subnet != env.subnet || again.mtu != env.mtu ||
        again.ip_masq != env.ip_masq)
        fuzz::broken("subnet.env does not survive format + parse");
    return 0;
}
