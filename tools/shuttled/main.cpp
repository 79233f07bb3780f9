#include <cstdio>
#include <cstring>

#include "shuttle/version.h"

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--version")) {
            std::printf("shuttled %s\n", shuttle::kVersion);
            return 0;
        }
        if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
            std::printf(
                "usage: shuttled [--help] [--version]\n\n"
                "shuttle's node agent. Not implemented yet: it leases nothing.\n");
            return 0;
        }
    }
    std::fprintf(stderr, "shuttled: the node agent is not implemented yet\n");
    return 2;
}
