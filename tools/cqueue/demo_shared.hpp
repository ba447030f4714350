// What the demo's parent and its worker programs share: the message format,
// the control file (stop flag, each producer's high-water mark) and the
// consumers' record files. All live in a private temp directory and are
// mapped MAP_SHARED, so what a worker stored survives its SIGKILL.
//
// Producer resume point. A producer stores trying = seq+1 before it calls
// cq_enqueue for seq, and done = seq+1 after the call succeeded. A producer
// killed with trying > done may or may not have enqueued seq (the kill hit
// inside the call): its restart resumes at `trying`, so seq is never sent
// twice; it is "in doubt" and may be missing at the end.
//
// Consumer records. A consumer appends (producer, seq) for every message it
// dequeued, then publishes the new count. A consumer killed between a dequeue
// and the count store loses the messages of that dequeue (at most
// kConsumerBatch): they left the queue but were never reported.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace cqcli::demo {

constexpr uint32_t kMessageMagic = 0x4d444d43;  // "CMDM"
constexpr uint32_t kMaxProducers = 64;
constexpr uint32_t kMaxConsumers = 64;
constexpr uint32_t kConsumerBatch = 16;  // messages per cq_dequeue_batch
constexpr uint32_t kQueueCapacity = 4096;
constexpr uint32_t kQueueMaxMessage = 64;

struct Message {
    uint32_t magic;
    uint32_t producer;
    uint64_t seq;
};
static_assert(sizeof(Message) == 16);

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

struct alignas(64) ProducerSlot {
    std::atomic<uint64_t> trying;  // seq + 1 of the message being enqueued
    std::atomic<uint64_t> done;    // every seq below it was enqueued (or is in doubt)
};

struct Control {
    std::atomic<uint32_t> stop;  // set by the parent: all producers finished
    ProducerSlot producer[kMaxProducers];
};

struct alignas(64) RecordHeader {
    std::atomic<uint64_t> count;  // records published
    std::atomic<uint64_t> bad;    // messages that failed validation
};

// A record: the producer in the top 16 bits, the sequence number below.
constexpr uint64_t pack(uint32_t producer, uint64_t seq) {
    return (uint64_t{producer} << 48) | seq;
}
constexpr uint32_t record_producer(uint64_t r) {
    return static_cast<uint32_t>(r >> 48);
}
constexpr uint64_t record_seq(uint64_t r) {
    return r & ((uint64_t{1} << 48) - 1);
}

// How many messages producer p sends: an even split of the total.
constexpr uint64_t messages_of(uint64_t total, uint32_t producers, uint32_t p) {
    return total / producers + (p < total % producers ? 1 : 0);
}

// A record file holds every message once, plus room to notice a duplicate flood.
constexpr uint64_t record_capacity(uint64_t total) {
    return total + 1024;
}
constexpr size_t record_file_size(uint64_t total) {
    return sizeof(RecordHeader) + record_capacity(total) * sizeof(uint64_t);
}

inline std::string control_path(const std::string &dir) {
    return dir + "/control";
}
inline std::string record_path(const std::string &dir, uint32_t index) {
    return dir + "/consumer-" + std::to_string(index) + ".rec";
}

}  // namespace cqcli::demo
