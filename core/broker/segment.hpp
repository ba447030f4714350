// One segment file of a topic's log, mapped shared: its header, reading a
// record at a position with every field validated, writing a record.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/broker/format.hpp"
#include "core/shm/fd.hpp"
#include "core/util/errors.hpp"

namespace cq::broker {

inline constexpr uint64_t kMinSegmentSize = 64 * 1024;
// count_of() has 24 bits: the smallest record (32 bytes) must not overflow it.
inline constexpr uint64_t kMaxSegmentSize = uint64_t{256} << 20;
static_assert(kMaxSegmentSize / sizeof(RecordHeader) < kMaxCount);

// What read_at found.
struct RecordView {
    enum Kind { empty, record, padding, bad } kind = empty;
    uint64_t size = 0;  // bytes to the next position (record, padding)
    uint64_t offset = 0;
    int64_t timestamp_ns = 0;
    const void *data = nullptr;
    uint32_t len = 0;
    const char *why = "";  // bad: what failed
};

class Segment {
  public:
    // Creates DIR/<base>.seg fully initialised under a temporary name and
    // renames it into place; if another process got there first, opens theirs.
    static Errc create(const std::string &dir, uint64_t base, uint32_t index, uint64_t size,
                       mode_t mode, bool sync_dir, std::shared_ptr<Segment> *out);
    // Opens and validates an existing segment (Errc::noent if missing).
    static Errc open(const std::string &dir, uint64_t base, std::shared_ptr<Segment> *out);
    // Bases of the segment files in dir, ascending.
    static Errc list(const std::string &dir, std::vector<uint64_t> *bases);
    static std::string file_name(uint64_t base);

    SegmentHeader &header() const { return *static_cast<SegmentHeader *>(map_.get()); }
    uint8_t *bytes() const { return static_cast<uint8_t *>(map_.get()); }
    uint64_t size() const { return size_; }
    uint64_t base() const { return base_; }
    uint32_t index() const { return index_; }
    int fd() const { return fd_.get(); }
    const std::string &path() const { return path_; }

    // The record or padding at pos (8-aligned, in [header, size)), every
    // field checked against the segment. Loads its word with seq_cst (the
    // reader's half of the publish wake-up handshake).
    RecordView read_at(uint64_t pos) const;
    // Steps from pos over committed records and padding; returns the first
    // position at or past `until`, or the first that holds neither (not
    // committed yet, or bad).
    uint64_t skip_committed(uint64_t pos, uint64_t until) const;
    // Writes one record at pos (reserved by the caller) and commits it.
    void write_record(uint64_t pos, uint64_t offset, int64_t ts, const void *data,
                      uint32_t len) const;
    // Turns the uncommitted bytes [pos, pos + size) into padding; false if
    // the word at pos is no longer 0 (someone committed or padded it).
    bool pad(uint64_t pos, uint64_t size) const;
    // Where the records of this segment end for a reader now: the sealed
    // position if sealed, else the tail (both capped at the size).
    uint64_t limit(uint64_t *sealed_count = nullptr) const;

  private:
    Segment() = default;
    std::string path_;
    Fd fd_;
    Mapping map_;
    uint64_t size_ = 0, base_ = 0;
    uint32_t index_ = 0;
};

}  // namespace cq::broker
