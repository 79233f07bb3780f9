// shuttlectl monitor's reading of an events record (datapath/monitor.h decode_event): the
// record grew from 48 to 80 bytes (the IPv6 addresses appended), and a shuttlectl of either
// build reads the other's records.
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "datapath/monitor.h"

namespace {

using shuttle::datapath::decode_event;

shuttle_event ipv6_drop() {
    shuttle_event e{};
    e.type = SHUTTLE_EVENT_DROP;
    e.stat_key = 7;
    e.ifindex = 5;
    e.len = 98;
    e.eth_proto = htons(0x86dd);
    e.ip_proto = 58;
    e.ttl = 64;
    e.saddr6[0] = 0xfd;
    e.saddr6[15] = 0x09;
    e.daddr6[0] = 0xfd;
    e.daddr6[15] = 0x03;
    return e;
}

}  // namespace

TEST_CASE("monitor reads this build's events record whole", "[monitor]") {
    shuttle_event sent = ipv6_drop();
    auto got = decode_event(&sent, sizeof sent);
    REQUIRE(got);
    CHECK(std::memcmp(&*got, &sent, sizeof sent) == 0);
    CHECK(sizeof(shuttle_event) == 80);
}

TEST_CASE("monitor reads an older build's 48-byte record, the IPv6 fields as zero", "[monitor]") {
    shuttle_event sent{};
    sent.type = SHUTTLE_EVENT_DROP;
    sent.stat_key = 7;
    sent.saddr = htonl(0x0af40102);
    sent.daddr = htonl(0x0af40103);
    sent.ttl = 1;
    std::vector<unsigned char> record(SHUTTLE_EVENT_V1_SIZE);
    std::memcpy(record.data(), &sent, record.size());
    auto got = decode_event(record.data(), record.size());
    REQUIRE(got);
    CHECK(got->saddr == sent.saddr);
    CHECK(got->daddr == sent.daddr);
    CHECK(got->ttl == 1);
    CHECK(got->stat_key == 7);
    for (unsigned char b : got->saddr6) {
        CHECK(b == 0);
    }
    CHECK_FALSE(decode_event(record.data(), SHUTTLE_EVENT_V1_SIZE - 1));
}

TEST_CASE("monitor reads a newer build's longer record by its first fields", "[monitor]") {
    shuttle_event sent = ipv6_drop();
    std::vector<unsigned char> record(sizeof sent + 16, 0xee);  // fields appended later
    std::memcpy(record.data(), &sent, sizeof sent);
    auto got = decode_event(record.data(), record.size());
    REQUIRE(got);
    CHECK(std::memcmp(&*got, &sent, sizeof sent) == 0);
}
