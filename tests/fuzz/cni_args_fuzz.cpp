// CNI_ARGS ("K=V;K=V") as the runtime passes it: parse_cni_args either parses or throws
// cni::Error (code 4); anything else escaping is a crash.
#include "cni/args.h"
#include "cni/error.h"
#include "fuzz_input.h"

using namespace shuttle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto args = cni::parse_cni_args(fuzz::as_text(data, size));
        for (const auto& ip : args.ips) {
            if (!IpAddress::parse(ip.str()))
                fuzz::broken("a parsed IP= address does not parse back");
        }
    } catch (const cni::Error& e) {
        if (e.code() != cni::kInvalidEnvironment)
            fuzz::broken("CNI_ARGS error with a code other than 4");
    }
    return 0;
}
