#include "cni/error.h"

namespace shuttle::cni {

nlohmann::json error_json(int code, const std::string& msg, const std::string& details,
                          const std::string& cni_version) {
    nlohmann::json out = {{"cniVersion", cni_version}, {"code", code}, {"msg", msg}};
    if (!details.empty()) {
        out["details"] = details;
    }
    return out;
}

}  // namespace shuttle::cni
