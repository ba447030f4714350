// The pool's job queue: a bounded lock-free MPMC segmented FIFO.
//
// Positions are 64-bit tickets that only grow. Position p lives in slot
// p % capacity, which belongs to segment s(p) = (p / seg) % segments, and p is
// in lap L(p) = p / capacity of the segment ring. Capacity and segment size
// are powers of two, so these are shifts and masks.
//
//   tail_      next position to reserve; bit 63 is the closed flag.
//   head_      next position to claim.
//   slot.seq   p + 1 once the job at position p is published (Vyukov's
//              per-cell sequence, "Bounded MPMC queue", 1024cores.net).
//   released_  per segment: how many of its positions have been consumed,
//              over all laps. The segment's generation is released / seg.
//
// Invariants (the reclamation argument, docs/pool.md "Recycled segments"):
//   I1  positions are reserved by a CAS on tail_ and claimed by a CAS on
//       head_, so each has exactly one producer and one consumer;
//   I2  a producer reserves p only after reading released_[s(p)] >=
//       L(p) * seg (acquire): every position of earlier laps in that segment
//       has been claimed, copied out and released, so nobody reads the slot;
//   I3  a consumer claims p only after reading seq == p + 1 (acquire), so it
//       reads the job written for p, and the slot cannot be rewritten before
//       the consumer releases it (I2 needs its release);
//   I4  a claimed run never crosses a segment, so releasing it is one RMW.
// Freeing is per segment, not per slot: a slow consumer holding one position
// keeps its whole segment from being reused (never a stall of others' runs;
// the ring just has one segment less until it finishes copying, which is a
// bounded number of instructions: it copies, then releases, before running).
//
// Not lock-free in the strict sense, like Vyukov's queue: a producer preempted
// between its reservation and its publication delays consumers of the
// positions after it (never their correctness).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/pool/job.hpp"

namespace cq {

class SegmentQueue {
  public:
    static constexpr uint64_t kClosed = uint64_t{1} << 63;

    // capacity and segment_size: powers of two, 1 <= segment_size <= capacity.
    // Throws std::bad_alloc.
    SegmentQueue(uint32_t capacity, uint32_t segment_size);

    uint32_t capacity() const { return static_cast<uint32_t>(mask_ + 1); }
    uint32_t segment_size() const { return static_cast<uint32_t>(seg_mask_ + 1); }

    enum class Reserve { ok, full, closed };

    // Reserves up to n (>= 1) consecutive positions: the longest run of free
    // ones from the tail. *first and *got receive the run.
    Reserve reserve(uint64_t n, uint64_t *first, uint64_t *got) {
        // relaxed: only a starting guess; the CAS below validates it.
        uint64_t t = tail_.load(std::memory_order_relaxed);
        for (;;) {
            if (t & kClosed) return Reserve::closed;
            uint64_t m = 0;
            while (m < n) {
                const uint64_t p = t + m;
                if (!segment_free_for(p, std::memory_order_acquire)) break;
                // The rest of p's segment in this lap is free too (I2 is per segment).
                const uint64_t to_end = seg_mask_ + 1 - (p & seg_mask_);
                m = n - m < to_end ? n : m + to_end;
            }
            if (m == 0) return Reserve::full;
            // seq_cst: this RMW is the producer half of the sleep handshake
            // (wake_workers loads the sleeper count after it; an idle worker
            // adds itself to the count and then loads tail_, both seq_cst).
            // Failure: relaxed, t is just refreshed.
            if (tail_.compare_exchange_weak(t, t + m, std::memory_order_seq_cst,
                                            std::memory_order_relaxed)) {
                *first = t;
                *got = m;
                return Reserve::ok;
            }
        }
    }

    // Writes the job of reserved position p and makes it visible.
    void publish(uint64_t p, const Job &job) {
        Slot &s = slots_[p & mask_];
        s.job = job;
        // release: the job's fields happen-before the consumer's acquire of seq (I3).
        s.seq.store(p + 1, std::memory_order_release);
    }

    // Claims the longest run (<= max) of published jobs from the head within
    // one segment, copies them to out and releases their slots. Returns how
    // many (0: nothing published at the head). *segment_freed tells whether
    // this take released the last slots of its segment's lap: only then can
    // a full queue's next reservation succeed, so only then is a blocked
    // submitter worth waking.
    uint32_t take(Job *out, uint32_t max, bool *segment_freed) {
        // relaxed: a guess validated by the CAS; slot contents are ordered by
        // the acquire loads of seq, not by head_.
        uint64_t h = head_.load(std::memory_order_relaxed);
        for (;;) {
            const uint64_t seg_end = (h | seg_mask_) + 1;
            const uint64_t limit = seg_end - h < max ? seg_end : h + max;
            uint64_t e = h;
            // acquire: pairs with publish(); seq == e + 1 names exactly
            // position e (64-bit, never reused), so a stale lap never matches.
            while (e < limit && slots_[e & mask_].seq.load(std::memory_order_acquire) == e + 1) ++e;
            if (e == h) return 0;
            // relaxed: the CAS only arbitrates ownership of [h, e) (I1); the
            // data were acquired above and stay put until we release (I2).
            if (head_.compare_exchange_weak(h, e, std::memory_order_relaxed,
                                            std::memory_order_relaxed)) {
                for (uint64_t p = h; p < e; ++p) *out++ = slots_[p & mask_].job;
                // seq_cst (an RMW): release so that our copies happen-before
                // the next lap's writes (I2); seq_cst because it is the
                // consumer half of the blocking-submit handshake (the pool
                // loads the waiter count after it; see room_for_next()).
                const uint64_t before =
                    released_[(h >> seg_shift_) & seg_index_mask_].value.fetch_add(
                        e - h, std::memory_order_seq_cst);
                // Each lap adds exactly one segment's worth to its counter.
                *segment_freed = ((before + (e - h)) & seg_mask_) == 0;
                return static_cast<uint32_t>(e - h);
            }
        }
    }

    // Whether the next reservation would find room (blocking submit's
    // re-check after it registered as a waiter): seq_cst loads, the waiter's
    // half of the handshake with take().
    bool room_for_next() const {
        uint64_t t = tail_.load(std::memory_order_seq_cst);
        return (t & kClosed) || segment_free_for(t, std::memory_order_seq_cst);
    }

    // Sets the closed flag: every later reserve() returns closed. seq_cst so
    // that the flag precedes the pool's closing flag in the single total order.
    void close() { tail_.fetch_or(kClosed, std::memory_order_seq_cst); }

    // Positions reserved so far (== jobs accepted).
    // seq_cst: also the worker's half of the sleep handshake (has_work()).
    uint64_t reserved() const { return tail_.load(std::memory_order_seq_cst) & ~kClosed; }
    // Positions claimed by consumers so far. acquire: with reserved(), a
    // worker that sees them equal after closing knows no job is left.
    uint64_t claimed() const { return head_.load(std::memory_order_acquire); }

  private:
    struct alignas(64) Slot {
        std::atomic<uint64_t> seq{0};
        Job job{};
    };
    static_assert(sizeof(Slot) == 64, "one job per cache line");
    struct alignas(64) Counter {
        std::atomic<uint64_t> value{0};
    };
    static_assert(std::atomic<uint64_t>::is_always_lock_free);

    // Free for p: every position of the laps before L(p) in s(p) is released.
    bool segment_free_for(uint64_t p, std::memory_order mo) const {
        const uint64_t lap = p >> cap_shift_;
        const uint64_t released = released_[(p >> seg_shift_) & seg_index_mask_].value.load(mo);
        return released >= (lap << seg_shift_);
    }

    const uint64_t mask_;            // capacity - 1
    const uint64_t seg_mask_;        // segment size - 1
    const uint32_t cap_shift_;       // log2 capacity
    const uint32_t seg_shift_;       // log2 segment size
    const uint64_t seg_index_mask_;  // segments - 1
    std::unique_ptr<Slot[]> slots_;
    std::unique_ptr<Counter[]> released_;
    alignas(64) std::atomic<uint64_t> tail_{0};  // producers' line
    alignas(64) std::atomic<uint64_t> head_{0};  // consumers' line
};

}  // namespace cq
