// The broker's files: segment header and records, the topic control file, the
// broker control file and the ack files. docs/broker-log.md is the normative
// description (with versions); keep the two in step.
//
// Everything here is read from files another process (or a crash) may have
// written: callers validate before trusting any field.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cq::broker {

// ---- positions -----------------------------------------------------------------
// A segment's tail packs the records reserved so far (count, 24 bits) and the
// next free byte (pos, 40 bits): one fetch_add reserves both the bytes and
// the offset (base_offset + count) of a record.
inline constexpr int kPosBits = 40;
inline constexpr uint64_t kPosMask = (uint64_t{1} << kPosBits) - 1;
inline constexpr uint64_t kMaxCount = (uint64_t{1} << (64 - kPosBits)) - 1;
inline constexpr uint64_t pack(uint64_t count, uint64_t pos) {
    return count << kPosBits | pos;
}
inline constexpr uint64_t count_of(uint64_t tail) {
    return tail >> kPosBits;
}
inline constexpr uint64_t pos_of(uint64_t tail) {
    return tail & kPosMask;
}

// ---- segment file --------------------------------------------------------------
inline constexpr uint64_t kSegmentMagic = 0x3147455351434b43ull;  // "CKCQSEG1"
inline constexpr uint32_t kSegmentVersion = 1;
inline constexpr uint64_t kSegmentHeaderSize = 4096;  // records start here, page aligned

struct SegmentHeader {
    // Immutable after creation (checksum covers magic .. created_ns).
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;         // kSegmentHeaderSize
    uint64_t segment_size;        // the file's size
    uint64_t base_offset;         // offset of its first record
    uint32_t index;               // 0, 1, 2 ... per topic
    uint32_t record_header_size;  // sizeof(RecordHeader)
    int64_t created_ns;           // CLOCK_REALTIME
    uint32_t checksum;            // crc32c of the bytes before it
    uint32_t pad0;
    // Mutable, shared.
    alignas(64) std::atomic<uint64_t> tail;  // pack(count, pos)
    // 0 = open; else pack(count, pos) + 1 of the reservation that did not
    // fit (the closer): the segment's records are exactly those before it.
    alignas(64) std::atomic<uint64_t> sealed;
    // Timestamp of the newest record (retention by age, seeks by time); on
    // its own line: publishers write it, readers' hot path never reads it.
    alignas(64) std::atomic<int64_t> newest_ns;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(sizeof(SegmentHeader) <= kSegmentHeaderSize);
inline constexpr size_t kSegmentChecksummed = offsetof(SegmentHeader, checksum);

// ---- records -------------------------------------------------------------------
// A record is RecordHeader + body, padded to 8 bytes. `word` is written last,
// with release: state in the top two bits, the record's total size / 8 below.
// A fresh segment is all zeros, so an uncommitted record reads as word 0.
inline constexpr uint32_t kStateShift = 30;
inline constexpr uint32_t kStateRecord = 1;
inline constexpr uint32_t kStatePadding =
    2;  // skip `size` bytes: a dead writer's hole or a segment's end
inline constexpr uint32_t kSizeMask = (1u << kStateShift) - 1;

struct RecordHeader {
    std::atomic<uint32_t> word;
    uint32_t crc;  // crc32c of the header from `offset` on, then the body
    uint64_t offset;
    int64_t timestamp_ns;
    uint32_t len;    // body bytes
    uint32_t flags;  // 0
};
static_assert(sizeof(RecordHeader) == 32);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
inline constexpr size_t kRecordCrcFrom = offsetof(RecordHeader, offset);

inline constexpr uint64_t record_size(uint64_t len) {
    return (sizeof(RecordHeader) + len + 7) & ~uint64_t{7};
}
inline constexpr uint32_t make_word(uint32_t state, uint64_t size) {
    return state << kStateShift | static_cast<uint32_t>(size / 8);
}

// ---- topic control file (DIR/topics/T/control) ---------------------------------
inline constexpr uint64_t kTopicMagic = 0x3143505443514b43ull;  // "CKQCTPC1"
inline constexpr uint32_t kTopicVersion = 1;
inline constexpr uint32_t kMaxHandles = 256;  // broker handles open at once per DIR

// What one broker handle's publisher is doing to this topic. Publishes of one
// handle to one topic are serialised, so one slot per handle suffices.
struct WriterSlot {
    // kIdle, kReserving (between announcing and knowing its reservation), or
    // the reservation: segment index << 40 | pos (never kIdle / kReserving).
    std::atomic<uint64_t> key;
    std::atomic<uint64_t> size;  // pack(count of the reservation, bytes reserved), valid with key
    std::atomic<uint64_t> gen;   // BrokerControl::slot_gen of the handle that wrote key
    uint64_t pad;
};
inline constexpr uint64_t kIdle = ~uint64_t{0};
inline constexpr uint64_t kReserving = ~uint64_t{0} - 1;

struct TopicControl {
    uint64_t magic;
    uint32_t version;
    uint32_t size;                                  // sizeof(TopicControl)
    uint32_t max_slots;                             // kMaxHandles
    uint32_t checksum;                              // crc32c of the bytes before it
    alignas(64) std::atomic<uint64_t> active_base;  // base offset of the segment publishers use
    std::atomic<uint32_t> active_seq;               // futex: bumped after active_base changes
    std::atomic<uint32_t> roll_waiters;
    // Durable frontier: every record before it is on disk per some handle's
    // fsync policy (GROUP / ALWAYS / INTERVAL); see Topic::sync_to.
    alignas(64) std::atomic<uint64_t> durable_offset;
    std::atomic<uint32_t> sync_owner;  // 0, or the leader: gen (23 bits) << 9 | handle slot + 1
    std::atomic<uint32_t> sync_seq;    // futex: bumped when durable_offset moves
    std::atomic<uint32_t> sync_waiters;
    std::atomic<uint32_t> sync_failed;  // sticky: an fdatasync of this topic failed
    // Where the durable frontier is in the log (written by the sync owner only).
    std::atomic<uint64_t> durable_base;
    std::atomic<uint64_t> durable_pos;
    alignas(64) std::atomic<uint64_t> holes_skipped;
    std::atomic<uint64_t> segments_deleted;
    alignas(64) WriterSlot slots[kMaxHandles];
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);
inline constexpr size_t kTopicChecksummed = offsetof(TopicControl, checksum);

// ---- broker control file (DIR/broker.ctl) ----------------------------------------
inline constexpr uint64_t kBrokerMagic = 0x314c5443514b4243ull;  // "CBKQCTL1"
inline constexpr uint32_t kBrokerVersion = 1;
// Handle slot i is owned by whoever holds the OFD lock on byte kSlotLockBase + i.
inline constexpr uint64_t kSlotLockBase = 1u << 20;

struct BrokerControl {
    uint64_t magic;
    uint32_t version;
    uint32_t size;
    uint32_t max_slots;
    uint32_t checksum;
    alignas(64) std::atomic<uint32_t> publish_seq;  // futex: bumped after commits when waiters
    std::atomic<uint32_t> poll_waiters;
    std::atomic<uint32_t> wake_pending;  // a wake-up is in flight: later commits need not wake
    alignas(64) std::atomic<uint32_t> topic_gen;             // bumped when a topic is created
    alignas(64) std::atomic<int32_t> slot_pid[kMaxHandles];  // for display only
    // Bumped by each new owner of a slot: a writer slot of a topic whose gen
    // differs was left by an earlier, dead owner.
    std::atomic<uint32_t> slot_gen[kMaxHandles];
    // /proc/sys/kernel/random/boot_id of the last first-opener. The same
    // boot: the page cache never lost a write, so a segment holds nothing
    // past its tail and the tail check stops there. Another boot: unsynced
    // pages may be lost or torn anywhere, so it reads the whole segment.
    char boot_id[40];
};
inline constexpr size_t kBrokerChecksummed = offsetof(BrokerControl, checksum);

// ---- ack file (DIR/subs/ID/TOPIC.ack) ----------------------------------------------
inline constexpr uint32_t kAckMagic = 0x4b434143u;  // "CACK"
inline constexpr uint16_t kAckVersion = 1;
struct AckFile {
    uint32_t magic;
    uint16_t version;
    uint16_t size;         // sizeof(AckFile)
    uint64_t next_offset;  // every record below it is acknowledged
    int64_t written_ns;
    uint32_t reserved;
    uint32_t crc;  // crc32c of the bytes before it
};
static_assert(sizeof(AckFile) == 32);

}  // namespace cq::broker
