#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace shuttle::cni {

// Error codes of the CNI spec (0-99) and shuttle's own (100+, listed in the README).
enum Code : int {
    kIncompatibleVersion = 1,
    kUnsupportedField = 2,
    kUnknownContainer = 3,
    kInvalidEnvironment = 4,
    kIoFailure = 5,
    kDecodeFailure = 6,
    kInvalidConfig = 7,
    kTryAgainLater = 11,
    kNotAvailable = 50,
    kLimitedConnectivity = 51,
    // shuttle's own
    kInternal = 100,
    kInterfaceExists = 101,
    kRangeExhausted = 102,
    kAddressUnavailable = 103,
    kDuplicateAllocation = 104,
    kNetlinkFailure = 105,
    kCheckFailed = 106,
    kDatapathFailure = 107,
    kDelegateFailure = 108,
};

// A failure that the plugin reports as the spec's error object.
class Error : public std::runtime_error {
  public:
    Error(int code, std::string msg, std::string details = {})
        : std::runtime_error(msg + (details.empty() ? "" : ": " + details)),
          code_(code),
          msg_(std::move(msg)),
          details_(std::move(details)) {}

    int code() const { return code_; }
    const std::string& msg() const { return msg_; }
    const std::string& details() const { return details_; }

  private:
    int code_;
    std::string msg_;
    std::string details_;
};

// {"cniVersion":..,"code":..,"msg":..,"details":..}; details only when not empty.
nlohmann::json error_json(int code, const std::string& msg, const std::string& details,
                          const std::string& cni_version);
inline nlohmann::json error_json(const Error& e, const std::string& cni_version) {
    return error_json(e.code(), e.msg(), e.details(), cni_version);
}

}  // namespace shuttle::cni
