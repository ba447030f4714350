// Lanes: the per-(handle, thread) slots in the region through which recovery
// knows who is alive and who is inside an operation.
//
// A lane is owned by whoever holds the OFD lock on its byte of the region's
// file (layout::kLaneLockBase + index); the kernel releases it when the
// owning process dies, whatever the signal, and a recycled pid never inherits
// it. `owner` additionally records (pid << 32 | nonce) so that `stat` can name
// holders and so that exactly one party (the next claimer or the reaper)
// cleans up after a dead holder, by CASing that word.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "core/queue/layout.hpp"
#include "core/util/errors.hpp"

namespace cq {

class LaneSet;

// Counts fork()s in this process's children (pthread_atfork, installed by
// the first call): a handle made before a fork can tell it is in a child,
// where it shares its parent's lanes and their locks.
void count_forks();

// The lanes this thread used last, and for which handles, most recent first:
// the fast path's one comparison, and three more for a thread that works
// with a few handles in turn (with one entry, every switch went through
// claim_slow, a mutex and a vector scan: 252 instead of 18 extra instructions
// per enqueue+dequeue pair with 3 handles, valgrind --tool=callgrind
// build-bench/bench/handle_switch 3 200000). constinit: no TLS wrapper call;
// initial-exec: no __tls_get_addr in the shared library (104 bytes; the whole
// library's TLS must stay small for dlopen(), see tests/abi/check_tls.sh).
struct LaneCache {
    struct Entry {
        const LaneSet *set = nullptr;
        uint64_t nonce = 0;
        layout::Lane *lane = nullptr;
    };
    static constexpr int kEntries = 4;
    Entry e[kEntries];

    // Makes (set, nonce, lane) the most recent entry, dropping the oldest.
    void put(const LaneSet *set, uint64_t nonce, layout::Lane *lane) {
        for (int i = kEntries - 1; i > 0; --i) e[i] = e[i - 1];
        e[0] = Entry{set, nonce, lane};
    }
    void forget(const LaneSet *set) {
        for (auto &x : e)
            if (x.set == set) x = Entry{};
    }
};
__attribute__((tls_model("initial-exec"))) inline constinit thread_local LaneCache t_cache{};

class LaneSet {
  public:
    // lane_count: the region's, as checked when it was opened (Region).
    LaneSet(layout::RegionHeader *hdr, layout::Lane *lanes, uint32_t lane_count, int fd);
    ~LaneSet();
    // In a child created by fork() after this set was made: nothing of it
    // may be used or released there.
    bool in_forked_child() const;
    LaneSet(const LaneSet &) = delete;
    LaneSet &operator=(const LaneSet &) = delete;

    // This thread's lane for this handle, claimed on first use. On failure
    // returns nullptr with the error recorded. *took_dead is set when the
    // claimed lane had belonged to a dead process (the caller should recover).
    layout::Lane *for_this_thread(bool *took_dead) {
        if (t_cache.e[0].set == this && t_cache.e[0].nonce == nonce_) return t_cache.e[0].lane;
        for (int i = 1; i < LaneCache::kEntries; ++i)
            if (t_cache.e[i].set == this && t_cache.e[i].nonce == nonce_) {
                layout::Lane *lane = t_cache.e[i].lane;
                std::swap(t_cache.e[0], t_cache.e[i]);  // most recent first
                return lane;
            }
        return claim_slow(took_dead);
    }

    uint32_t index_of(const layout::Lane *l) const { return static_cast<uint32_t>(l - lanes_); }
    // Whether lane i is held by this handle (its lock is invisible to probes
    // made through our own descriptor).
    bool is_mine(uint32_t i);
    // Lane states for recovery and stats: live (another live holder),
    // dead (owner recorded, lock free), unused.
    enum class State { unused, live, dead };
    State state_of(uint32_t i);
    // Cleans up after a dead holder if `expected_owner` still names it:
    // resets owner to 0 and takes back its waiter counts. True if we did it.
    bool retire_dead(uint32_t i, uint64_t expected_owner);

    void release(uint32_t i);  // called when a thread exits

  private:
    using Cache = LaneCache;

    layout::Lane *claim_slow(bool *took_dead);
    void take_back_waiters(uint32_t waiting_bits);

    layout::RegionHeader *hdr_;
    layout::Lane *lanes_;
    int fd_;
    uint64_t nonce_;
    // The fork count when this set was made. A child created by fork()
    // inherits the set, and the open file description with its lane locks:
    // it must never release them (its exit would unlock the parent's lanes).
    uint64_t fork_gen_;
    std::mutex mu_;
    std::vector<bool> mine_;
    std::weak_ptr<LaneSet> self_;
    friend class Queue;
};

}  // namespace cq
