// What the pub/sub part's parent and its worker programs share, beyond what
// every part does (demo_part_shared.hpp: stop flag, record files, tags,
// pacing): the record body, the publishers' slots in the control file and the
// subscribers' record items. The broker directory is a subdirectory of the
// part's temp directory.
//
// Subscriber records. A subscriber polls a batch, appends (publisher, seq,
// offset) for each record and publishes the new count; only then, every
// 20 ms (or when nothing is left), it calls broker_ack for the last offset
// it recorded. Killed, the records it recorded after its last ack are
// delivered again to its restart: those, and only those, may be duplicates.
#pragma once

#include <atomic>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "demo_part_shared.hpp"

namespace cqcli::broker_demo {

constexpr uint32_t kMaxPublishers = 64;
constexpr uint32_t kMaxSubscribers = 64;
constexpr uint32_t kSubscriberBatch = 64;   // records per broker_poll_batch
constexpr uint64_t kSegmentSize = 1 << 20;  // small: the demo rolls segments
constexpr const char *kTopic = "demo.events";
constexpr const char *kPattern = "demo.*";

struct alignas(64) PublisherSlot {
    std::atomic<uint64_t> published;  // records 0..published-1 were published
};

struct Control {
    demo_part::StopFlag stop;  // set by the parent: all publishers finished
    PublisherSlot publisher[kMaxPublishers];
};
static_assert(offsetof(Control, stop) == 0);

struct Record {
    uint64_t tag;     // publisher in the top 16 bits, seq below
    uint64_t offset;  // the record's offset in kTopic
};

// Room for every record twice: one incarnation's duplicates never exceed that.
constexpr uint64_t record_capacity(uint64_t total) {
    return 2 * total + 1024;
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
    return demo_part::pack(p, seq);
}

inline std::string broker_dir(const std::string &dir) {
    return dir + "/broker";
}
inline std::string record_path(const std::string &dir, uint32_t index) {
    return dir + "/subscriber-" + std::to_string(index) + ".rec";
}
inline demo_part::RecordFile open_record_file(const std::string &path, uint64_t total,
                                              bool create) {
    return demo_part::RecordFile(path, sizeof(Record), record_capacity(total), create);
}
inline std::string subscriber_id(uint32_t slot) {
    return "demo-sub-" + std::to_string(slot);
}

}  // namespace cqcli::broker_demo
