#pragma once

// libnftables, loaded with dlopen on first use. The CNI plugin runs once per pod: linking
// libnftables (and its libnftnl, libmnl, libxtables, libjansson, libgmp) would make every
// ADD and DEL pay for loading them, while only a plugin with ipMasq ever calls nftables.

struct nft_ctx;

namespace shuttle::masquerade {

struct NftablesLibrary {
    nft_ctx* (*ctx_new)(unsigned int flags);
    void (*ctx_free)(nft_ctx* ctx);
    void (*ctx_output_set_flags)(nft_ctx* ctx, unsigned int flags);
    int (*ctx_buffer_output)(nft_ctx* ctx);
    int (*ctx_buffer_error)(nft_ctx* ctx);
    const char* (*ctx_get_output_buffer)(nft_ctx* ctx);
    const char* (*ctx_get_error_buffer)(nft_ctx* ctx);
    int (*run_cmd_from_buffer)(nft_ctx* ctx, const char* buffer);
};

// The loaded library; throws masquerade::Error when libnftables.so.1 or one of its
// functions is missing.
const NftablesLibrary& nftables();

}  // namespace shuttle::masquerade
