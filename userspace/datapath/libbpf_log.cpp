#include "datapath/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace shuttle::datapath {
namespace {

int quiet_libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
    if (level == LIBBPF_DEBUG || std::strstr(format, "Kernel error message") != nullptr) {
        return 0;
    }
    return std::vfprintf(stderr, format, args);
}

}  // namespace

void install_libbpf_print() {
    static std::once_flag once;
    std::call_once(once, [] { libbpf_set_print(quiet_libbpf_print); });
}

}  // namespace shuttle::datapath
