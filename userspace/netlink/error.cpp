#include "netlink/error.h"

namespace shuttle::netlink {

namespace {

std::string compose(int err, const std::string& operation, const std::string& kernel_message) {
    std::string text = operation + ": " + std::generic_category().message(err);
    if (!kernel_message.empty()) {
        text += " (" + kernel_message + ")";
    }
    return text;
}

}  // namespace

Error::Error(int err, const std::string& operation, const std::string& kernel_message)
    : std::system_error(err, std::generic_category(), operation),
      operation_(operation),
      kernel_message_(kernel_message),
      text_(compose(err, operation, kernel_message)) {}

bool is_errno(const std::exception& e, int err) {
    auto* netlink_error = dynamic_cast<const Error*>(&e);
    return netlink_error != nullptr && netlink_error->errno_value() == err;
}

}  // namespace shuttle::netlink
