// A set of sleepers and its futex word (an event count).
//
// Sleeper:  t = prepare(); if (!condition()) wait(t, deadline); done();
// Notifier: make the condition true with a seq_cst RMW; notify(n).
//
// No lost wake-up: prepare() adds the sleeper with a seq_cst RMW before the
// sleeper's seq_cst re-check of its condition; notify() loads the count with
// seq_cst after the notifier's seq_cst RMW. In the single total order either
// the re-check sees the notifier's change, or notify() sees the sleeper and
// bumps seq_, so the futex wait on the ticket returns at once or is woken.
// Notifiers pay one shared read per call and no system call while nobody
// sleeps.
//
// At most one wake-up in flight (notify(1)): a notifier that finds pending_
// set skips the system call; every sleeper clears pending_ after registering
// (before reading its ticket) and again when it leaves. A skipping notifier's
// RMW on pending_ precedes that clear, which precedes the clearer's seq_cst
// re-check of the work, so the job is seen by a worker that is, or is about
// to be, awake (docs/pool.md "Wake-ups"). Without this, a producer feeding a
// pool with one idle worker paid a futex_wake per job.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>

#include "core/shm/futex.hpp"

namespace cq {

class IdleSet {
  public:
    uint32_t prepare() noexcept {
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        pending_.store(0, std::memory_order_seq_cst);
        // seq_cst: read after registering; any bump from now on makes the
        // futex wait on this ticket return at once.
        return seq_.load(std::memory_order_seq_cst);
    }
    // False on timeout.
    bool wait(uint32_t ticket, uint64_t deadline_ns) noexcept {
        return futex_wait(word(), ticket, deadline_ns);
    }
    // relaxed: a stale count costs a notifier one useless wake call, nothing more.
    // seq_cst on pending_: the clear precedes the caller's next re-check.
    void done() noexcept {
        pending_.store(0, std::memory_order_seq_cst);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }

    // seq_cst: see the wake chaining in Pool::worker_main.
    bool has_sleepers() const noexcept { return sleepers_.load(std::memory_order_seq_cst) != 0; }

    void notify(int n) noexcept {
        if (sleepers_.load(std::memory_order_seq_cst) == 0) return;
        // A plain load first: the line stays shared while a wake is in flight.
        if (n == 1 && (pending_.load(std::memory_order_seq_cst) != 0 ||
                       pending_.exchange(1, std::memory_order_seq_cst) != 0))
            return;
        seq_.fetch_add(1, std::memory_order_seq_cst);
        futex_wake(word(), n);
    }
    void notify_all() noexcept {
        seq_.fetch_add(1, std::memory_order_seq_cst);
        futex_wake(word(), INT_MAX);
    }

  private:
    const uint32_t *word() const noexcept { return reinterpret_cast<const uint32_t *>(&seq_); }
    static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                  std::atomic<uint32_t>::is_always_lock_free);

    alignas(64) std::atomic<uint32_t> sleepers_{0};  // read by every notifier
    std::atomic<uint32_t> seq_{0};                   // the futex word
    std::atomic<uint32_t> pending_{0};               // a notify(1) is waking someone
};

}  // namespace cq
