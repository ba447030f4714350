// One topic of a broker directory as seen by one broker handle: its control
// file, its segments, publishing (reserve, write, commit, roll), the skipping
// of a dead publisher's hole, group commit and retention.
//
// docs/broker-log.md describes the protocol and argues its safety.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/broker/format.hpp"
#include "core/broker/segment.hpp"
#include "core/shm/fd.hpp"
#include "core/util/errors.hpp"

namespace cq::broker {

enum class FsyncPolicy : uint32_t { none = 0, interval = 1, group = 2, always = 3 };
enum class Overflow : uint32_t { block = 0, fail = 1, drop = 2 };

struct Options {
    FsyncPolicy fsync = FsyncPolicy::none;
    uint32_t fsync_interval_ms = 100;
    Overflow overflow = Overflow::block;
    uint64_t segment_size = 64 << 20;
    uint64_t retention_bytes = 0;
    int64_t retention_age_ns = 0;
    int64_t block_timeout_ns = 5'000'000'000;
    int64_t hole_timeout_ns = 1'000'000'000;
    mode_t mode = 0600;
};

// Per-handle counters (this process's view).
struct HandleStats {
    std::atomic<uint64_t> published{0}, published_bytes{0}, delivered{0}, fsyncs{0},
        segments_deleted{0}, publish_failures{0};
};

// What a topic needs from its broker handle.
struct Context {
    std::string dir;  // the broker directory
    Options opts;
    uint32_t slot = 0;  // this handle's slot, and its generation
    uint64_t gen = 0;
    BrokerControl *bctl = nullptr;
    // Whether the handle in `slot` with generation `gen` is alive.
    std::function<bool(uint32_t slot, uint64_t gen)> live;
    HandleStats *stats = nullptr;
};

struct Message {
    const void *data;
    size_t len;
};

class Topic {
  public:
    // Opens the topic, creating its directory, control file and first
    // segment if missing (create = false: Errc::noent instead).
    static Errc open(Context *ctx, const std::string &name, bool create,
                     std::shared_ptr<Topic> *out);
    ~Topic();

    const std::string &name() const { return name_; }
    const std::string &dir() const { return dir_; }
    TopicControl &ctl() const { return *ctl_; }

    // Appends msgs[0..n) with consecutive offsets (one reservation per
    // segment they go to); *appended counts those done even on error.
    Errc publish(const Message *msgs, size_t n, uint64_t *first_offset, size_t *appended);

    // The segment with this base, mapped (cached); Errc::noent if deleted.
    Errc segment(uint64_t base, std::shared_ptr<Segment> *out);
    Errc active(std::shared_ptr<Segment> *out);
    // Bases of the segments on disk now, ascending.
    Errc bases(std::vector<uint64_t> *out) const;
    // Next offset to be appended.
    uint64_t end_offset();

    // A reader found an uncommitted record at pos of seg (pos < seg.limit()).
    // Turns it into padding if its writer is dead (see docs); true if the
    // word at pos changed (re-read it), false if a live writer may still
    // commit it.
    bool skip_hole(const Segment &seg, uint64_t pos, uint64_t limit);
    // Creates the next segment of a sealed one and makes it active
    // (idempotent; any process may help). Applies retention first.
    Errc roll(const Segment &seg);

    // Makes every committed record durable per `always`/group rules and
    // returns once durable_offset >= end (see docs: group commit).
    Errc sync_to(uint64_t end, bool own_fsync);
    // One round of group commit if nobody else is leading (INTERVAL, close).
    Errc sync_round();

    // Deletes segments past the retention limits (overflow policy applies).
    Errc enforce_retention(uint64_t extra_bytes);

  private:
    Topic() = default;
    Errc create_files(bool create);
    Errc map_control();
    void attach_slot();
    // Pads what a dead writer left uncommitted of its reservation (segment
    // index `index`, bytes [pos, pos + bytes)), as skip_hole would.
    void settle_dead_reservation(uint32_t index, uint64_t pos, uint64_t bytes);
    Errc roll_wait(const Segment &seg, uint64_t deadline);
    bool seal_for_dead_closer(const Segment &seg);
    // Calls f(pos, size word, alive) for every writer slot with a reservation
    // in seg. False if a live writer has not said where it reserved yet (it
    // may be anywhere past the tail read before), or if f returned false.
    template <typename F>
    bool scan_writers(const Segment &seg, F f) const;
    bool slot_live(uint32_t i) const;
    uint32_t owner_word() const;
    bool owner_live(uint32_t owner) const;
    // Takes the group-commit leader role (sync_owner) if nobody holds it or
    // its holder is dead; every round, of every policy, starts here.
    bool claim_lead();
    // Gives the role back and wakes the waiters; the round's sync_seq.
    uint32_t end_lead();
    Errc lead_sync();
    // Whether this process's leader rounds have stopped at pos of seg for
    // hole_timeout_ns (the first call for a position starts the clock).
    bool stuck_for_a_while(const Segment &seg, uint64_t pos);
    Errc min_durable_ack(uint64_t *min_next, bool *any) const;

    Context *ctx_ = nullptr;
    std::string name_, dir_;
    Fd ctl_fd_;
    Mapping ctl_map_;
    TopicControl *ctl_ = nullptr;
    std::mutex publish_mu_;             // publishes of this handle to this topic
    std::shared_ptr<Segment> writing_;  // the segment publish wrote to last (under publish_mu_)
    std::mutex segs_mu_;
    std::map<uint64_t, std::shared_ptr<Segment>> segs_;
    std::atomic<bool> slot_attached_{false};
    // Where this process's leader rounds last stopped at an uncommitted
    // record, and since when (only the sync_owner touches them).
    uint64_t stuck_base_ = UINT64_MAX, stuck_pos_ = 0, stuck_since_ = 0;
    bool stuck_checked_ = false;  // a walk from the first record landed on stuck_pos_
};

}  // namespace cq::broker
