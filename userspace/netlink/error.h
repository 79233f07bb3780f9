#pragma once

#include <string>
#include <system_error>

namespace shuttle::netlink {

// A request the kernel refused. what() names the operation, the object and the errno text,
// e.g. "add route 10.244.1.0/24 via 10.244.0.1 dev eth0: Network is unreachable", followed by
// the kernel's extended ack message in parentheses when it sent one. code().value() is the
// errno, so callers can test for EEXIST / ENODEV / ENOENT with errno_value().
class Error : public std::system_error {
  public:
    Error(int err, const std::string& operation, const std::string& kernel_message = "");

    const char* what() const noexcept override { return text_.c_str(); }
    int errno_value() const { return code().value(); }
    const std::string& operation() const { return operation_; }
    // The kernel's extended ack text (NLMSGERR_ATTR_MSG); empty when it sent none.
    const std::string& kernel_message() const { return kernel_message_; }

  private:
    std::string operation_;
    std::string kernel_message_;
    std::string text_;
};

// True when `e` is a netlink::Error carrying errno `err`.
bool is_errno(const std::exception& e, int err);

}  // namespace shuttle::netlink
