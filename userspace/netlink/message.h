#pragma once

// Netlink message building and parsing, independent of any socket: a builder that lays out
// nlmsghdr + family header + (nested) rtattrs with 4-byte alignment, and a parser that reads
// the same bytes back. Unit-testable without the kernel.

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip.h"

namespace shuttle::netlink {

using Bytes = std::span<const uint8_t>;

constexpr size_t align4(size_t n) {
    return (n + 3) & ~size_t{3};
}

class MessageBuilder;

// Closes a nested attribute when it goes out of scope: its length then covers its children.
class Nest {
  public:
    Nest(MessageBuilder& builder, uint16_t type);
    ~Nest();
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

  private:
    MessageBuilder& builder_;
    size_t offset_;
};

class MessageBuilder {
  public:
    MessageBuilder(uint16_t type, uint16_t flags);

    // The family header (ifinfomsg, ifaddrmsg, rtmsg, ndmsg, ...): add it once, first.
    template <class Header>
    void add_header(const Header& header) {
        append(&header, sizeof header);
    }

    void add(uint16_t type, Bytes payload);
    void add_flag(uint16_t type) { add(type, {}); }
    void add_u8(uint16_t type, uint8_t value) { add_raw(type, value); }
    void add_u16(uint16_t type, uint16_t value) { add_raw(type, value); }
    void add_u32(uint16_t type, uint32_t value) { add_raw(type, value); }
    void add_s32(uint16_t type, int32_t value) { add_raw(type, value); }
    // NUL-terminated, as the kernel expects for names.
    void add_string(uint16_t type, std::string_view value);
    // 4 or 16 bytes, network order.
    void add_address(uint16_t type, const IpAddress& address);
    void add_mac(uint16_t type, const MacAddress& mac);

    // Opens a nested attribute; its children follow until the Nest is destroyed.
    [[nodiscard]] Nest nest(uint16_t type) { return Nest(*this, type); }
    size_t begin_nested(uint16_t type);
    void end_nested(size_t offset);

    void set_sequence(uint32_t seq);
    void add_flags(uint16_t flags);
    uint16_t type() const;
    uint16_t flags() const;
    uint32_t sequence() const;
    // The finished message; nlmsg_len is always up to date.
    Bytes bytes() const { return buffer_; }

  private:
    template <class T>
    void add_raw(uint16_t type, const T& value) {
        add(type, Bytes(reinterpret_cast<const uint8_t*>(&value), sizeof value));
    }
    void append(const void* data, size_t size);
    void pad();
    void set_length();
    nlmsghdr* header();
    const nlmsghdr* header() const;

    std::vector<uint8_t> buffer_;
};

class Attributes;

struct Attribute {
    uint16_t type = 0;  // NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off
    Bytes payload;

    uint8_t u8() const;
    uint16_t u16() const;
    uint32_t u32() const;
    int32_t s32() const { return static_cast<int32_t>(u32()); }
    // Drops the trailing NUL(s).
    std::string str() const;
    // 4 bytes -> IPv4, 16 bytes -> IPv6.
    IpAddress address() const;
    MacAddress mac() const;
    Attributes nested() const;

  private:
    template <class T>
    T read_exact() const;
};

// The attributes in a byte range, parsed eagerly. Throws std::runtime_error on malformed input.
class Attributes {
  public:
    Attributes() = default;
    explicit Attributes(Bytes data);

    // The last attribute of this type (the kernel never repeats the ones we look up).
    std::optional<Attribute> get(uint16_t type) const;
    bool has(uint16_t type) const { return get(type).has_value(); }
    const std::vector<Attribute>& all() const { return list_; }

  private:
    std::vector<Attribute> list_;
};

// One received message, header included, owning its bytes.
struct Message {
    std::vector<uint8_t> bytes;

    nlmsghdr header() const;
    uint16_t type() const { return header().nlmsg_type; }
    uint16_t flags() const { return header().nlmsg_flags; }
    uint32_t sequence() const { return header().nlmsg_seq; }
    // Everything after the nlmsghdr.
    Bytes payload() const;

    // The family header, copied out. Throws std::runtime_error if the message is too short.
    template <class Header>
    Header family_header() const {
        Bytes p = payload();
        check_size(p.size(), sizeof(Header));
        Header h;
        std::memcpy(&h, p.data(), sizeof h);
        return h;
    }
    // The attributes after a family header of the given size.
    Attributes attributes(size_t family_header_size) const;

  private:
    static void check_size(size_t have, size_t need);
};

// Splits one received datagram into its messages. Throws std::runtime_error on truncation.
std::vector<Message> split_messages(Bytes datagram);

// The content of an NLMSG_ERROR message: errno (0 = ack) and the extended ack text, if any.
struct Ack {
    int error = 0;  // positive errno, 0 for success
    std::string message;
};
Ack parse_ack(const Message& message);

}  // namespace shuttle::netlink
