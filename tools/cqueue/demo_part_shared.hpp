// What the parent and the worker programs of every `cqueue demo` part share,
// whatever the part: the stop flag at the start of the control file, the
// record files, the (sender, seq) tag, the even split of the items and the
// senders' pacing. The files live in the part's private temp directory and
// are mapped MAP_SHARED, so what a worker stored survives its SIGKILL. The
// parts add their own slots and items: demo_shared.hpp (queue),
// demo_broker_shared.hpp (pub/sub).
//
// Record files. A receiver appends one item per message it got, then
// publishes the new count with one release store; the parent reads the count
// for its progress line and, once the receiver is gone, the items for the
// end check. A receiver killed between the two loses what it had appended
// since its last store.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "clock.hpp"
#include "mapping.hpp"

namespace cqcli::demo_part {

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

// A part's control file starts with this flag (each part static_asserts its
// offset 0): the parent sets it once every sender has finished, and a
// receiver that then finds nothing left stops.
using StopFlag = std::atomic<uint32_t>;

inline std::string control_path(const std::string &dir) {
    return dir + "/control";
}

// The tag of an item: the sender in the top 16 bits, its sequence number below.
constexpr uint64_t pack(uint32_t sender, uint64_t seq) {
    return (uint64_t{sender} << 48) | seq;
}
constexpr uint32_t tag_sender(uint64_t tag) {
    return static_cast<uint32_t>(tag >> 48);
}
constexpr uint64_t tag_seq(uint64_t tag) {
    return tag & ((uint64_t{1} << 48) - 1);
}

// How many items sender s sends: an even split of the total.
constexpr uint64_t share_of(uint64_t total, uint32_t senders, uint32_t s) {
    return total / senders + (s < total % senders ? 1 : 0);
}

// A worker blocked in a wait re-checks the stop flag this often.
constexpr int64_t kWaitSliceNs = 50'000'000;

// A paced sender (interval > 0) sends item seq at t0 + seq * interval.
inline void pace(int64_t t0, int64_t interval, uint64_t seq) {
    if (interval <= 0) return;
    const int64_t ahead = t0 + static_cast<int64_t>(seq) * interval - now_ns();
    if (ahead > 1'000'000) sleep_for_ns(ahead);
}

struct alignas(64) RecordHeader {
    std::atomic<uint64_t> count;  // items published
    std::atomic<uint64_t> bad;    // messages that failed validation
};

// One receiver incarnation's record file: a RecordHeader, then room for
// `capacity` items of one part-specific type.
class RecordFile {
  public:
    // create: a new zero-filled file (the parent); otherwise an existing one.
    RecordFile(const std::string &path, size_t item_size, uint64_t capacity, bool create)
        : map_(Mapping::file(path, sizeof(RecordHeader) + capacity * item_size, create)),
          capacity_(capacity) {}

    RecordHeader *header() const { return map_.as<RecordHeader>(); }
    template <class Item>
    Item *items() const {
        return reinterpret_cast<Item *>(header() + 1);
    }
    uint64_t capacity() const { return capacity_; }
    // Items published so far.
    uint64_t count() const { return header()->count.load(); }
    // Of those, the ones a reader may look at (never past the file's end).
    uint64_t readable() const { return std::min(count(), capacity_); }

  private:
    Mapping map_;
    uint64_t capacity_;
};

// The receiver's side of its record file: append() items, then publish()
// them with one store.
class RecordWriter {
  public:
    explicit RecordWriter(RecordFile file) : file_(std::move(file)), count_(file_.count()) {}

    bool full() const { return count_ >= file_.capacity(); }
    template <class Item>
    void append(const Item &item) {
        file_.items<Item>()[count_++] = item;
    }
    // Makes the appended items visible to the parent; `bad` messages are added
    // to the header's count of those that failed validation.
    void publish(uint64_t bad) {
        if (bad) file_.header()->bad.fetch_add(bad);
        file_.header()->count.store(count_, std::memory_order_release);
    }

  private:
    RecordFile file_;
    uint64_t count_;
};

}  // namespace cqcli::demo_part
