// What the queue part's parent and its worker programs share, beyond what
// every part does (demo_part_shared.hpp: stop flag, record files, tags,
// pacing): the message format, the producers' slots in the control file and
// the consumers' record items.
//
// Producer resume point. A producer stores trying = seq+1 before it calls
// cq_enqueue for seq, and done = seq+1 after the call succeeded. A producer
// killed with trying > done may or may not have enqueued seq (the kill hit
// inside the call): its restart resumes at `trying`, so seq is never sent
// twice; it is "in doubt" and may be missing at the end.
//
// Consumer records. A consumer appends the tag (producer, seq) of every
// message it dequeued, then publishes the new count. A consumer killed between
// a dequeue and the count store loses the messages of that dequeue (at most
// kConsumerBatch): they left the queue but were never reported.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "demo_part_shared.hpp"

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

struct alignas(64) ProducerSlot {
    std::atomic<uint64_t> trying;  // seq + 1 of the message being enqueued
    std::atomic<uint64_t> done;    // every seq below it was enqueued (or is in doubt)
};

struct Control {
    demo_part::StopFlag stop;  // set by the parent: all producers finished
    ProducerSlot producer[kMaxProducers];
};
static_assert(offsetof(Control, stop) == 0);

// A record file holds every message's tag once, plus room to notice a
// duplicate flood.
constexpr uint64_t record_capacity(uint64_t total) {
    return total + 1024;
}
inline std::string record_path(const std::string &dir, uint32_t index) {
    return dir + "/consumer-" + std::to_string(index) + ".rec";
}
inline demo_part::RecordFile open_record_file(const std::string &path, uint64_t total,
                                              bool create) {
    return demo_part::RecordFile(path, sizeof(uint64_t), record_capacity(total), create);
}

}  // namespace cqcli::demo
