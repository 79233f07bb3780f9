#include <cstdio>
#include <cstring>

#include "shuttle/version.h"

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--version")) {
            std::printf("shuttlectl %s\n", shuttle::kVersion);
            return 0;
        }
        if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
            std::printf(
                "usage: shuttlectl [--help] [--version]\n\n"
                "inspects shuttle's datapath. Not implemented yet.\n");
            return 0;
        }
    }
    std::fprintf(stderr, "shuttlectl: inspection is not implemented yet\n");
    return 2;
}
