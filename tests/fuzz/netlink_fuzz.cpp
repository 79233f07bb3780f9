// Netlink replies, arbitrary bytes as one received datagram: split_messages and every
// message parser (ack, link, address, route, neighbour, FDB) return or throw
// std::runtime_error, nothing else, and never read outside the datagram (ASan).
#include <linux/netlink.h>

#include <stdexcept>

#include "fuzz_input.h"
#include "netlink/address.h"
#include "netlink/fdb.h"
#include "netlink/link.h"
#include "netlink/message.h"
#include "netlink/neighbour.h"
#include "netlink/route.h"

using namespace shuttle;
using namespace shuttle::netlink;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<Message> messages;
    try {
        messages = split_messages(Bytes(data, size));
    } catch (const std::runtime_error&) {
        return 0;
    }
    for (const auto& message : messages) {
        if (message.type() == NLMSG_ERROR)
            fuzz::parse_or_refuse<std::runtime_error>([&] { parse_ack(message); });
        fuzz::parse_or_refuse<std::runtime_error>([&] { parse_link(message); });
        fuzz::parse_or_refuse<std::runtime_error>([&] { parse_address(message); });
        fuzz::parse_or_refuse<std::runtime_error>([&] { parse_route(message); });
        fuzz::parse_or_refuse<std::runtime_error>([&] { parse_neighbour(message); });
        fuzz::parse_or_refuse<std::runtime_error>([&] { parse_fdb(message); });
    }
    return 0;
}
