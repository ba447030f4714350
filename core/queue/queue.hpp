// A handle on a shared-memory queue: the operations of the C API's cq_*
// functions, in C++. One object per cq_open; any number of threads may use
// it at once.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/queue/arena.hpp"
#include "core/queue/free_list.hpp"
#include "core/queue/lanes.hpp"
#include "core/queue/region.hpp"
#include "core/util/errors.hpp"

namespace cq {

// Layout-compatible with cq_iov / cq_rbuf (capi static_asserts it).
struct ConstBuf {
    const void *data;
    size_t len;
};
struct MutBuf {
    void *data;
    size_t cap;
    size_t len;
};

struct QueueStats {
    uint32_t capacity;
    uint32_t max_message_size;
    uint64_t length;
    uint64_t free_nodes;
    uint64_t enqueued;
    uint64_t dequeued;
    uint64_t reclaimed;
    uint64_t recoveries;
    uint32_t lanes_live;
    uint32_t lanes_dead;
};

// What a full walk of the structure found (recovery's scan, quiescent).
struct Audit {
    uint64_t queued = 0;   // messages on the list
    uint64_t free = 0;     // nodes on the free list
    uint64_t held = 0;     // off the list behind head, kept while tail lags behind them
    uint64_t orphans = 0;  // nodes on none of these (held by the dead)
};

class Queue {
  public:
    static Errc open(const char *name, const RegionParams &params, std::unique_ptr<Queue> *out);
    ~Queue();

    Errc enqueue(const void *data, size_t len);
    Errc dequeue(void *buf, size_t cap, size_t *len);
    Errc enqueue_wait(const void *data, size_t len, int64_t timeout_ns);
    Errc dequeue_wait(void *buf, size_t cap, size_t *len, int64_t timeout_ns);
    // Count enqueued/dequeued (> 0) or a negative Errc value.
    int enqueue_batch(const ConstBuf *msgs, uint32_t count);
    int dequeue_batch(MutBuf *bufs, uint32_t count);

    Errc stats(QueueStats *out);
    // Ends the waits of this handle in progress (enqueue_wait, dequeue_wait:
    // Errc::canceled); other processes' waiters wake and sleep again.
    void interrupt();
    // Stop-the-world recovery. *audit (may be null) receives the scan.
    Errc recover(uint64_t *reclaimed, Audit *audit = nullptr);

    const Region &region() const { return *region_; }
    uint32_t capacity() const { return arena_.count - 1; }
    uint32_t max_message_size() const { return arena_.max_len; }

    // Benchmarks only: skip the recovery gate on the fast path, to measure
    // what it costs. Unsafe with recovery: never use outside bench/.
    void disable_gate_for_bench() { gate_enabled_ = false; }

  private:
    explicit Queue(std::unique_ptr<Region> region);

    Errc check_usable();
    layout::Lane *enter(Errc *err);
    void wait_gate(layout::Lane *lane);
    static void leave(layout::Lane *lane) {
        // release: everything this operation did happens-before a reaper
        // that acquires active == 0.
        lane->active.store(0, std::memory_order_release);
    }
    Errc mark_corrupt(const char *what);
    Errc try_enqueue(layout::Lane *lane, const ConstBuf *msgs, uint32_t count, uint32_t *done);
    Errc try_dequeue(layout::Lane *lane, MutBuf *bufs, uint32_t count, uint32_t *done);
    template <typename Op>
    Errc wait_for(Op op, Errc again, layout::Atomic32 &waiters, layout::Atomic32 &seq_word,
                  uint32_t lane_bit, int64_t timeout_ns, const char *state);
    void wake_not_empty();
    void wake_not_full();
    bool any_dead_lane();
    // On CQ_EFULL: recovers if a peer died (checked at most every 50 ms);
    // true if it did, and the caller should try once more.
    bool maybe_recover_on_full();
    Errc reap(layout::Lane *self, uint64_t *reclaimed, Audit *audit);
    // Takes victim's whole free stack: extends the chain *first..*last of
    // *got nodes up to want and parks the rest on lane's own stack. True if
    // the stack is damaged.
    bool steal(layout::Lane *lane, layout::Lane &victim, uint32_t want, uint32_t *first,
               uint32_t *last, uint32_t *got);
    // Free-node stacks (free_list.hpp): own lane, global, other lanes.
    // Appends to the chain *first..*last of *got nodes, up to want.
    free_list::PopResult take_nodes(layout::Lane *lane, uint32_t want, uint32_t *first,
                                    uint32_t *last, uint32_t *got);
    void free_chain(layout::Lane *lane, uint32_t first, uint32_t last, uint32_t count);
    // Nodes freed by one step, pushed on a free stack together.
    struct Freed {
        uint32_t first = layout::kNil, last = layout::kNil, count = 0;
        AheadLinker ahead;  // the chain's prefetch hints
    };
    // Marks `bits` done on n; adds it to *f if that completed it.
    void release_into(uint32_t n, uint32_t bits, Freed *f);
    // Sets kTailPast on every node of a pending run (the caller took it and
    // knows tail passed it). False if the run's links are damaged.
    bool release_run(uint64_t run, Freed *f);
    // Takes every lane's pending run (an exchange makes the taker its only
    // releaser), moves tail to the end of the list and releases the runs'
    // nodes into *f. False if the list or a run is damaged.
    bool take_runs(Freed *f);
    // A producer that found too few free nodes: take_runs, and the freed
    // nodes onto this lane's stack. True if that freed a node.
    bool take_pending_runs(layout::Lane *lane);
    void hand_over(layout::Lane *lane);
    // How long recovery may keep the gate closed: the quiesce bound plus a
    // scan allowance proportional to the node count. Every process derives
    // the same figure, so a waiter can tell an honest deadline from a
    // damaged one.
    uint64_t gate_budget_ms() const { return kQuiesceMs + uint64_t{arena_.count} / 20'000 + 100; }
    static constexpr uint64_t kQuiesceMs = 200;  // wait for live lanes this long
    // A waiter trusts gate_holder only after waiting this long (see wait_gate).
    static constexpr uint64_t kGateHolderGraceMs = 10;

    std::unique_ptr<Region> region_;
    layout::RegionHeader *hdr_;
    Arena arena_;
    std::shared_ptr<LaneSet> lanes_;
    bool light_fence_;
    bool auto_recover_ = true;
    bool gate_enabled_ = true;
    std::atomic<uint64_t> last_full_check_ns_{0};
    std::atomic<uint32_t> interrupts_{0};  // interrupt() calls; a wait ends when it moves
    uint32_t lane_stack_max_;              // a lane hands its free nodes over past this many
};

}  // namespace cq
