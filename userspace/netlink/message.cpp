#include "netlink/message.h"

#include <linux/rtnetlink.h>

#include <algorithm>
#include <stdexcept>

namespace shuttle::netlink {

namespace {

constexpr size_t kAttributeHeader = sizeof(nlattr);
constexpr int kMaxErrno = 4095;  // the kernel's MAX_ERRNO

[[noreturn]] void malformed(const std::string& what) {
    throw std::runtime_error("malformed netlink message: " + what);
}

}  // namespace

// ---- building --------------------------------------------------------------------------

Nest::Nest(MessageBuilder& builder, uint16_t type)
    : builder_(builder), offset_(builder.begin_nested(type)) {}

Nest::~Nest() {
    builder_.end_nested(offset_);
}

MessageBuilder::MessageBuilder(uint16_t type, uint16_t flags) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    append(&h, sizeof h);
}

nlmsghdr* MessageBuilder::header() {
    return reinterpret_cast<nlmsghdr*>(buffer_.data());
}

const nlmsghdr* MessageBuilder::header() const {
    return reinterpret_cast<const nlmsghdr*>(buffer_.data());
}

void MessageBuilder::append(const void* data, size_t size) {
    auto* bytes = static_cast<const uint8_t*>(data);
    buffer_.insert(buffer_.end(), bytes, bytes + size);
    pad();
}

void MessageBuilder::pad() {
    buffer_.resize(align4(buffer_.size()), 0);
    set_length();
}

void MessageBuilder::set_length() {
    header()->nlmsg_len = static_cast<uint32_t>(buffer_.size());
}

void MessageBuilder::add(uint16_t type, Bytes payload) {
    if (payload.size() > UINT16_MAX - kAttributeHeader) {
        throw std::length_error("netlink attribute " + std::to_string(type) + " of " +
                                std::to_string(payload.size()) + " bytes is too long");
    }
    nlattr a{};
    a.nla_len = static_cast<uint16_t>(kAttributeHeader + payload.size());
    a.nla_type = type;
    auto* head = reinterpret_cast<const uint8_t*>(&a);
    buffer_.insert(buffer_.end(), head, head + sizeof a);
    buffer_.insert(buffer_.end(), payload.begin(), payload.end());
    pad();
}

void MessageBuilder::add_string(uint16_t type, std::string_view value) {
    std::vector<uint8_t> with_nul(value.begin(), value.end());
    with_nul.push_back(0);
    add(type, with_nul);
}

void MessageBuilder::add_address(uint16_t type, const IpAddress& address) {
    add(type, Bytes(address.bytes.data(), address.size()));
}

void MessageBuilder::add_mac(uint16_t type, const MacAddress& mac) {
    add(type, mac.bytes);
}

size_t MessageBuilder::begin_nested(uint16_t type) {
    size_t offset = buffer_.size();
    add(type, {});
    return offset;
}

void MessageBuilder::end_nested(size_t offset) {
    auto* a = reinterpret_cast<nlattr*>(buffer_.data() + offset);
    a->nla_len = static_cast<uint16_t>(buffer_.size() - offset);
}

void MessageBuilder::set_sequence(uint32_t seq) {
    header()->nlmsg_seq = seq;
}
void MessageBuilder::add_flags(uint16_t flags) {
    header()->nlmsg_flags |= flags;
}
uint16_t MessageBuilder::type() const {
    return header()->nlmsg_type;
}
uint16_t MessageBuilder::flags() const {
    return header()->nlmsg_flags;
}
uint32_t MessageBuilder::sequence() const {
    return header()->nlmsg_seq;
}

// ---- parsing ---------------------------------------------------------------------------

template <class T>
T Attribute::read_exact() const {
    if (payload.size() < sizeof(T)) {
        malformed("attribute " + std::to_string(type) + " has " + std::to_string(payload.size()) +
                  " bytes, expected " + std::to_string(sizeof(T)));
    }
    T value;
    std::memcpy(&value, payload.data(), sizeof value);
    return value;
}

uint8_t Attribute::u8() const {
    return read_exact<uint8_t>();
}
uint16_t Attribute::u16() const {
    return read_exact<uint16_t>();
}
uint32_t Attribute::u32() const {
    return read_exact<uint32_t>();
}

std::string Attribute::str() const {
    std::string s(payload.begin(), payload.end());
    while (!s.empty() && s.back() == '\0') {
        s.pop_back();
    }
    return s;
}

IpAddress Attribute::address() const {
    IpAddress ip;
    if (payload.size() == 4) {
        ip.family = AF_INET;
    } else if (payload.size() == 16) {
        ip.family = AF_INET6;
    } else {
        malformed("address attribute " + std::to_string(type) + " has " +
                  std::to_string(payload.size()) + " bytes");
    }
    std::memcpy(ip.bytes.data(), payload.data(), payload.size());
    return ip;
}

MacAddress Attribute::mac() const {
    if (payload.size() != 6) {
        malformed("MAC attribute " + std::to_string(type) + " has " +
                  std::to_string(payload.size()) + " bytes");
    }
    MacAddress mac;
    std::memcpy(mac.bytes.data(), payload.data(), 6);
    return mac;
}

Attributes Attribute::nested() const {
    return Attributes(payload);
}

Attributes::Attributes(Bytes data) {
    size_t offset = 0;
    while (offset + kAttributeHeader <= data.size()) {
        nlattr a;
        std::memcpy(&a, data.data() + offset, sizeof a);
        if (a.nla_len < kAttributeHeader || offset + a.nla_len > data.size()) {
            malformed("attribute length " + std::to_string(a.nla_len) + " at offset " +
                      std::to_string(offset));
        }
        Attribute attribute;
        attribute.type = a.nla_type & NLA_TYPE_MASK;
        attribute.payload = data.subspan(offset + kAttributeHeader, a.nla_len - kAttributeHeader);
        list_.push_back(attribute);
        offset += align4(a.nla_len);
    }
}

std::optional<Attribute> Attributes::get(uint16_t type) const {
    for (auto it = list_.rbegin(); it != list_.rend(); ++it) {
        if (it->type == type) {
            return *it;
        }
    }
    return std::nullopt;
}

nlmsghdr Message::header() const {
    check_size(bytes.size(), sizeof(nlmsghdr));
    nlmsghdr h;
    std::memcpy(&h, bytes.data(), sizeof h);
    return h;
}

Bytes Message::payload() const {
    size_t end = std::min<size_t>(header().nlmsg_len, bytes.size());
    return Bytes(bytes).subspan(sizeof(nlmsghdr), end - sizeof(nlmsghdr));
}

Attributes Message::attributes(size_t family_header_size) const {
    Bytes p = payload();
    size_t start = align4(family_header_size);
    check_size(p.size(), start);
    return Attributes(p.subspan(start));
}

void Message::check_size(size_t have, size_t need) {
    if (have < need) {
        malformed(std::to_string(have) + " bytes, expected at least " + std::to_string(need));
    }
}

std::vector<Message> split_messages(Bytes datagram) {
    std::vector<Message> messages;
    size_t offset = 0;
    while (offset + sizeof(nlmsghdr) <= datagram.size()) {
        nlmsghdr h;
        std::memcpy(&h, datagram.data() + offset, sizeof h);
        if (h.nlmsg_len < sizeof h || offset + h.nlmsg_len > datagram.size()) {
            malformed("message length " + std::to_string(h.nlmsg_len) + " at offset " +
                      std::to_string(offset) + " of " + std::to_string(datagram.size()));
        }
        auto begin = datagram.begin() + static_cast<std::ptrdiff_t>(offset);
        messages.push_back(Message{{begin, begin + h.nlmsg_len}});
        offset += align4(h.nlmsg_len);
    }
    return messages;
}

Ack parse_ack(const Message& message) {
    Bytes p = message.payload();
    if (p.size() < sizeof(nlmsgerr)) {
        malformed("error message of " + std::to_string(p.size()) + " bytes");
    }
    nlmsgerr err;
    std::memcpy(&err, p.data(), sizeof err);
    // 0 or a negative errno; anything else (INT_MIN has no negation) is no kernel's answer.
    if (err.error > 0 || err.error < -kMaxErrno) {
        malformed("error message with error " + std::to_string(err.error));
    }
    Ack ack{-err.error, {}};
    if (!(message.flags() & NLM_F_ACK_TLVS)) {
        return ack;
    }
    size_t tlv_offset = sizeof err;
    if (!(message.flags() & NLM_F_CAPPED)) {
        tlv_offset +=
            align4(std::max<size_t>(err.msg.nlmsg_len, sizeof(nlmsghdr))) - sizeof(nlmsghdr);
    }
    if (tlv_offset <= p.size()) {
        if (auto text = Attributes(p.subspan(tlv_offset)).get(NLMSGERR_ATTR_MSG)) {
            ack.message = text->str();
        }
    }
    return ack;
}

}  // namespace shuttle::netlink
