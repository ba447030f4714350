#include "core/queue/lanes.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "core/shm/ofd_lock.hpp"

namespace cq {
using namespace layout;

namespace {
// Distinguishes handles that reuse an address, and lane tokens of one
// process. With g_fork_gen, the library's only global counters.
std::atomic<uint64_t> g_nonce{1};

std::atomic<uint64_t> g_fork_gen{0};  // bumped in every child created by fork()
void on_fork_child() {
    g_fork_gen.fetch_add(1, std::memory_order_relaxed);
}

// Per thread: the lanes it holds in live handles, released at thread exit.
struct ThreadLanes {
    struct Entry {
        std::weak_ptr<LaneSet> set;
        uint32_t index;
    };
    std::vector<Entry> entries;
    ~ThreadLanes() {
        for (auto &e : entries)
            if (auto s = e.set.lock()) s->release(e.index);
    }
};
thread_local ThreadLanes t_thread_lanes;
}  // namespace

void count_forks() {
    static std::once_flag once;
    std::call_once(once, [] { pthread_atfork(nullptr, nullptr, on_fork_child); });
}

bool LaneSet::in_forked_child() const {
    return g_fork_gen.load(std::memory_order_relaxed) != fork_gen_;
}

LaneSet::LaneSet(RegionHeader *hdr, Lane *lanes, uint32_t lane_count, int fd)
    : hdr_(hdr),
      lanes_(lanes),
      fd_(fd),
      nonce_(g_nonce.fetch_add(1, std::memory_order_relaxed)),
      fork_gen_(g_fork_gen.load(std::memory_order_relaxed)),
      mine_(lane_count, false) {}

LaneSet::~LaneSet() {
    // The descriptor is closed after this, which drops every lock at once;
    // clearing owner first tells peers these lanes were released, not lost.
    // Not in a forked child: the lanes are its parent's.
    if (in_forked_child()) return;
    for (uint32_t i = 0; i < mine_.size(); ++i)
        if (mine_[i]) lanes_[i].owner.store(0, std::memory_order_release);
}

bool LaneSet::is_mine(uint32_t i) {
    std::lock_guard<std::mutex> g(mu_);
    return i < mine_.size() && mine_[i];
}

LaneSet::State LaneSet::state_of(uint32_t i) {
    if (lanes_[i].owner.load(std::memory_order_acquire) == 0) return State::unused;
    if (is_mine(i)) return State::live;
    switch (ofd_probe(fd_, kLaneLockBase + i)) {
        case LockProbe::held:
            return State::live;
        case LockProbe::free:
            return State::dead;
        case LockProbe::error:
            return State::live;  // never reclaim on doubt
    }
    return State::live;
}

void LaneSet::take_back_waiters(uint32_t bits) {
    if (bits & 1u) hdr_->not_empty_waiters.fetch_sub(1, std::memory_order_relaxed);
    if (bits & 2u) hdr_->not_full_waiters.fetch_sub(1, std::memory_order_relaxed);
}

bool LaneSet::retire_dead(uint32_t i, uint64_t expected_owner) {
    Lane &l = lanes_[i];
    if (!l.owner.compare_exchange_strong(expected_owner, 0, std::memory_order_acq_rel))
        return false;
    take_back_waiters(l.waiting.exchange(0, std::memory_order_relaxed));
    l.active.store(0, std::memory_order_relaxed);
    return true;
}

Lane *LaneSet::claim_slow(bool *took_dead) {
    std::lock_guard<std::mutex> g(mu_);
    // Another lane of ours for this thread (cache evicted by another handle)?
    auto &entries = t_thread_lanes.entries;
    std::erase_if(entries, [](const ThreadLanes::Entry &e) { return e.set.expired(); });
    for (auto &e : entries) {
        if (e.set.lock().get() == this) {
            t_cache.put(this, nonce_, &lanes_[e.index]);
            return &lanes_[e.index];
        }
    }
    const uint32_t n = static_cast<uint32_t>(mine_.size());  // the checked lane count
    const uint64_t token = (static_cast<uint64_t>(::getpid()) << 32) |
                           (g_nonce.fetch_add(1, std::memory_order_relaxed) & 0xFFFFFFFFu);
    for (uint32_t i = 0; i < n; ++i) {
        if (mine_[i] || !ofd_try_lock(fd_, kLaneLockBase + i)) continue;
        Lane &l = lanes_[i];
        uint64_t old = l.owner.load(std::memory_order_acquire);
        if (old != 0) {
            // Its holder died without a reaper having retired it yet: we do.
            *took_dead = true;
            if (l.owner.compare_exchange_strong(old, token, std::memory_order_acq_rel))
                take_back_waiters(l.waiting.exchange(0, std::memory_order_relaxed));
        }
        // If a reaper retired it meanwhile, owner is 0 now.
        l.owner.store(token, std::memory_order_release);
        l.active.store(0, std::memory_order_relaxed);
        l.waiting.store(0, std::memory_order_relaxed);
        // Publish the high-water mark before the first operation: the
        // reaper reads it after its fence (see Queue::enter).
        uint32_t used = hdr_->lanes_used.load(std::memory_order_relaxed);
        while (used < i + 1 &&
               !hdr_->lanes_used.compare_exchange_weak(used, i + 1, std::memory_order_seq_cst)) {
        }
        mine_[i] = true;
        if (auto self = self_.lock()) t_thread_lanes.entries.push_back({self, i});
        t_cache.put(this, nonce_, &l);
        return &l;
    }
    fail(Errc::busy, "all %u lanes of the queue are held by live threads", n);
    return nullptr;
}

void LaneSet::release(uint32_t i) {
    // A forked child's thread-exit destructors run for lanes its parent
    // holds (same lock, same open file description): leave them be. Before
    // the mutex, which another thread of the parent may have held at fork().
    if (in_forked_child()) return;
    std::lock_guard<std::mutex> g(mu_);
    if (i >= mine_.size() || !mine_[i]) return;
    lanes_[i].owner.store(0, std::memory_order_release);
    ofd_unlock(fd_, kLaneLockBase + i);
    mine_[i] = false;
    t_cache.forget(this);
}

}  // namespace cq
