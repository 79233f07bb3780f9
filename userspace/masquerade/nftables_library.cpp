#include "masquerade/nftables_library.h"

#include <dlfcn.h>

#include <string>

#include "masquerade/masquerade.h"

namespace shuttle::masquerade {

namespace {

constexpr const char* kSoname = "libnftables.so.1";

template <typename F>
void resolve(void* handle, const char* symbol, F& function) {
    void* address = ::dlsym(handle, symbol);
    if (address == nullptr) {
        throw Error(std::string("nft: ") + kSoname + " has no " + symbol);
    }
    function = reinterpret_cast<F>(address);
}

NftablesLibrary load() {
    void* handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = ::dlerror();
        throw Error(std::string("nft: cannot load ") + kSoname +
                    " (Debian package libnftables1): " + (why ? why : "unknown error"));
    }
    NftablesLibrary library{};
    resolve(handle, "nft_ctx_new", library.ctx_new);
    resolve(handle, "nft_ctx_free", library.ctx_free);
    resolve(handle, "nft_ctx_output_set_flags", library.ctx_output_set_flags);
    resolve(handle, "nft_ctx_buffer_output", library.ctx_buffer_output);
    resolve(handle, "nft_ctx_buffer_error", library.ctx_buffer_error);
    resolve(handle, "nft_ctx_get_output_buffer", library.ctx_get_output_buffer);
    resolve(handle, "nft_ctx_get_error_buffer", library.ctx_get_error_buffer);
    resolve(handle, "nft_run_cmd_from_buffer", library.run_cmd_from_buffer);
    return library;  // the handle stays open for the life of the process
}

}  // namespace

const NftablesLibrary& nftables() {
    static const NftablesLibrary library = load();
    return library;
}

}  // namespace shuttle::masquerade
