// What the pub/sub demo's parent and its worker programs share: the record
// body, the control file (stop flag, each publisher's count) and the
// subscribers' record files. All live in a private temp directory (the broker
// directory is a subdirectory of it) and are mapped MAP_SHARED, so what a
// worker stored survives its SIGKILL.
//
// Subscriber records. A subscriber polls a batch, appends (publisher, seq,
// offset) for each record and publishes the new count; only then, every
// 20 ms (or when nothing is left), it calls broker_ack for the last offset
// it recorded. Killed, the records it recorded after its last ack are
// delivered again to its restart: those, and only those, may be duplicates.
#pragma once

#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

namespace cqcli::broker_demo {

constexpr uint32_t kMaxPublishers = 64;
constexpr uint32_t kMaxSubscribers = 64;
constexpr uint32_t kSubscriberBatch = 64;   // records per broker_poll_batch
constexpr uint64_t kSegmentSize = 1 << 20;  // small: the demo rolls segments
constexpr const char *kTopic = "demo.events";
constexpr const char *kPattern = "demo.*";

static_assert(std::atomic<uint64_t>::is_always_lock_free);

struct alignas(64) PublisherSlot {
    std::atomic<uint64_t> published;  // records 0..published-1 were published
};

struct Control {
    std::atomic<uint32_t> stop;  // set by the parent: all publishers finished
    PublisherSlot publisher[kMaxPublishers];
};

struct Record {
    uint64_t tag;     // publisher in the top 16 bits, seq below
    uint64_t offset;  // the record's offset in kTopic
};

struct alignas(64) RecordHeader {
    std::atomic<uint64_t> count;  // records stored
    std::atomic<uint64_t> bad;    // bodies that failed validation
};

constexpr uint64_t pack(uint32_t publisher, uint64_t seq) {
    return (uint64_t{publisher} << 48) | seq;
}
constexpr uint32_t tag_publisher(uint64_t t) {
    return static_cast<uint32_t>(t >> 48);
}
constexpr uint64_t tag_seq(uint64_t t) {
    return t & ((uint64_t{1} << 48) - 1);
}

// How many records publisher p publishes: an even split of the total.
constexpr uint64_t records_of(uint64_t total, uint32_t publishers, uint32_t p) {
    return total / publishers + (p < total % publishers ? 1 : 0);
}

// Room for every record twice: one incarnation's duplicates never exceed that.
constexpr uint64_t record_capacity(uint64_t total) {
    return 2 * total + 1024;
}
constexpr size_t record_file_size(uint64_t total) {
    return sizeof(RecordHeader) + record_capacity(total) * sizeof(Record);
}

// The body: readable, so that `cqueue sub` on a kept directory shows it.
inline std::string body(uint32_t publisher, uint64_t seq) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "publisher %u seq %" PRIu64, publisher, seq);
    return buf;
}
inline std::optional<uint64_t> parse_body(const void *data, size_t len) {
    char buf[48];
    if (len == 0 || len >= sizeof buf) return std::nullopt;
    std::memcpy(buf, data, len);
    buf[len] = '\0';
    unsigned p = 0;
    uint64_t seq = 0;
    int used = 0;
    if (std::sscanf(buf, "publisher %u seq %" SCNu64 "%n", &p, &seq, &used) != 2 ||
        static_cast<size_t>(used) != len || body(p, seq) != buf)
        return std::nullopt;
    return pack(p, seq);
}

inline std::string broker_dir(const std::string &dir) {
    return dir + "/broker";
}
inline std::string control_path(const std::string &dir) {
    return dir + "/control";
}
inline std::string record_path(const std::string &dir, uint32_t index) {
    return dir + "/subscriber-" + std::to_string(index) + ".rec";
}
inline std::string subscriber_id(uint32_t slot) {
    return "demo-sub-" + std::to_string(slot);
}

}  // namespace cqcli::broker_demo
