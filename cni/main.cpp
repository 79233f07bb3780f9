#include <cstdio>
#include <cstdlib>
#include <string>

#include "shuttle/version.h"

int main() {
    const char* command = std::getenv("CNI_COMMAND");
    if (command && std::string(command) == "VERSION") {
        std::printf(
            R"({"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]})"
            "\n");
        return 0;
    }
    std::printf(
        R"({"cniVersion":"1.1.0","code":4,"msg":"unsupported CNI_COMMAND","details":"only VERSION is implemented in shuttle %s"})"
        "\n",
        shuttle::kVersion);
    return 1;
}
