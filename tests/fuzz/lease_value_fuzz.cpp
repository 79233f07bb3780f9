// What other nodes write into etcd: a lease value (any JSON a peer or flanneld wrote) and a
// subnet key's last part. Neither parser throws; what parses formats back to the same thing.
#include "agent/lease_value.h"
#include "fuzz_input.h"

using namespace shuttle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto text = fuzz::as_text(data, size);
    if (auto attrs = agent::parse_lease_value(text); attrs && attrs->vtep_mac) {
        auto again = agent::parse_lease_value(
            agent::format_lease_value(attrs->public_ip, attrs->vni, *attrs->vtep_mac));
        if (!again || again->public_ip != attrs->public_ip || again->vni != attrs->vni ||
            again->vtep_mac != attrs->vtep_mac || again->backend_type != "vxlan")
            fuzz::broken("a lease value does not survive format + parse");
    }
    if (auto subnet = agent::parse_subnet_key_name(text)) {
        if (agent::parse_subnet_key_name(agent::subnet_key_name(*subnet)) != subnet)
            fuzz::broken("a subnet key name does not survive format + parse");
    }
    return 0;
}
