#include "core/queue/queue.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <mutex>
#include <new>

#include "core/queue/free_list.hpp"
#include "core/queue/ms_queue.hpp"
#include "core/shm/fence.hpp"
#include "core/shm/futex.hpp"
#include "core/util/clock.hpp"

namespace cq {
using namespace layout;

namespace {
constexpr uint32_t kMaxClaim = 256;            // messages per head CAS in a batch
constexpr int kSpinTries = 200;                // non-blocking retries before sleeping
constexpr uint64_t kFullCheckNs = 50'000'000;  // dead-peer check period on EFULL

const uint32_t *futex_word(const Atomic32 &a) {
    return reinterpret_cast<const uint32_t *>(&a);
}
}  // namespace

Queue::Queue(std::unique_ptr<Region> region)
    : region_(std::move(region)),
      hdr_(region_->header()),
      arena_{hdr_, region_->node_base(), region_->node_stride(), region_->node_count(),
             region_->max_message_size()},
      lanes_(
          std::make_shared<LaneSet>(hdr_, region_->lanes(), region_->lane_count(), region_->fd())),
      light_fence_(membarrier_light_ok()),
      // Small queues hand freed nodes to everyone at once; big ones keep up
      // to 64 per lane, a 64th of the capacity at most.
      lane_stack_max_(std::clamp<uint32_t>(region_->capacity() / 64, 1, 64)) {
    lanes_->self_ = lanes_;
}

Queue::~Queue() = default;

Errc Queue::open(const char *name, const RegionParams &params, std::unique_ptr<Queue> *out) {
    count_forks();
    std::unique_ptr<Region> region;
    if (Errc e = Region::open(name, params, &region); e != Errc::ok) return e;
    std::unique_ptr<Queue> q(new (std::nothrow) Queue(std::move(region)));
    if (!q) return fail(Errc::nomem, "out of memory");
    q->auto_recover_ = params.auto_recover;
    // A process that notices a dead peer recovers what it held.
    if (q->auto_recover_ && q->any_dead_lane()) q->recover(nullptr);
    clear_last_error();
    *out = std::move(q);
    return Errc::ok;
}

Errc Queue::mark_corrupt(const char *what) {
    hdr_->corrupt.store(1, std::memory_order_relaxed);
    return fail(Errc::corrupt, "queue %s is corrupt: %s", region_->name().c_str(), what);
}

Errc Queue::check_usable() {
    if (lanes_->in_forked_child())
        return fail(Errc::perm, "handle of %s used in a child after fork(); open it again there",
                    region_->name().c_str());
    if (hdr_->corrupt.load(std::memory_order_relaxed))
        return fail(Errc::corrupt, "queue %s was marked corrupt by a process that found damage",
                    region_->name().c_str());
    return Errc::ok;
}

// Fast path of every operation: announce "inside an operation", then check
// the recovery gate. The pair is a store-load (Dekker) handshake with the
// reaper, which closes the gate and then reads every lane: with the fences,
// either we see the gate closed or the reaper sees us active.
Lane *Queue::enter(Errc *err) {
    if (Errc e = check_usable(); e != Errc::ok) {
        *err = e;
        return nullptr;
    }
    bool took_dead = false;
    Lane *lane = lanes_->for_this_thread(&took_dead);
    if (!lane) {
        *err = Errc::busy;
        return nullptr;
    }
    if (took_dead && auto_recover_) reap(lane, nullptr, nullptr);
    if (!gate_enabled_) return lane;
    for (;;) {
#ifdef CQUEUE_FENCE_FREE
        lane->active.exchange(1, std::memory_order_seq_cst);
        uint64_t g = hdr_->gate.load(std::memory_order_seq_cst);
#else
        lane->active.store(1, std::memory_order_relaxed);
        light_fence(light_fence_);
        uint64_t g = hdr_->gate.load(std::memory_order_relaxed);
#endif
        if (!gate_closed(g)) return lane;
        wait_gate(lane);
    }
}

// The gate is closed: step out of the operation and wait for the reaper.
// A reaper that overstays its deadline (stopped or killed mid-scan) has its
// gate broken open, which invalidates its scan: it then reclaims nothing.
void Queue::wait_gate(Lane *lane) {
    leave(lane);
    const uint64_t started_ms = monotonic_ns() / 1'000'000;
    for (;;) {
        uint64_t g = hdr_->gate.load(std::memory_order_acquire);
        if (!gate_closed(g)) return;
        // Break a gate whose deadline passed, and one whose holder is gone
        // (a reaper killed mid-scan, or a damaged gate word).
        uint32_t holder = hdr_->gate_holder.load(std::memory_order_acquire);
        const uint64_t now_ms = monotonic_ns() / 1'000'000;
        // The reaper names itself just after closing the gate: until then
        // gate_holder names an earlier one, so judge the holder only after
        // a grace period. Our own lane never holds a gate we wait on; a
        // deadline beyond what any reaper sets is damage.
        const bool judge_holder = now_ms >= started_ms + kGateHolderGraceMs;
        if (now_ms > gate_deadline_ms(g) ||
            now_ms + gate_budget_ms() + 1000 < gate_deadline_ms(g) ||
            (judge_holder &&
             (holder >= region_->lane_count() || &region_->lanes()[holder] == lane ||
              lanes_->state_of(holder) != LaneSet::State::live))) {
            hdr_->gate.compare_exchange_strong(g, gate_open(gate_gen(g) + 1),
                                               std::memory_order_seq_cst);
            return;
        }
        sleep_ns(20'000);
    }
}

void Queue::wake_not_empty() {
    // Load half of the store-load pair: our link CAS was seq_cst.
    if (hdr_->not_empty_waiters.load(std::memory_order_seq_cst) != 0) {
        hdr_->not_empty_seq.fetch_add(1, std::memory_order_seq_cst);
        futex_wake(futex_word(hdr_->not_empty_seq), INT_MAX);
    }
}

void Queue::wake_not_full() {
    if (hdr_->not_full_waiters.load(std::memory_order_seq_cst) != 0) {
        hdr_->not_full_seq.fetch_add(1, std::memory_order_seq_cst);
        futex_wake(futex_word(hdr_->not_full_seq), INT_MAX);
    }
}

// Extends the chain first..last of *got nodes (none yet: *got == 0) up to
// `want` nodes: this lane's stack first, then the global one, then other
// lanes' (what is free may sit there). A source that has enough costs one
// CAS; more sources are tried only for the rest.
free_list::PopResult Queue::take_nodes(Lane *lane, uint32_t want, uint32_t *first, uint32_t *last,
                                       uint32_t *got) {
    using free_list::PopResult;
    auto from = [&](Atomic64 &top) {
        uint32_t f, l, n;
        const PopResult r = free_list::pop_chain(arena_, top, want - *got, &f, &l, &n);
        if (r != PopResult::ok) return r == PopResult::corrupt;
        if (*got == 0)
            *first = f;
        else
            arena_.node(*last)->free_next.store(f, std::memory_order_relaxed);
        *last = l;
        *got += n;
        return false;
    };
    if ((*got < want && from(lane->free_top)) || (*got < want && from(hdr_->free_top)))
        return PopResult::corrupt;
    Lane *lanes = region_->lanes();
    const uint32_t used =
        std::min(hdr_->lanes_used.load(std::memory_order_acquire), region_->lane_count());
    for (uint32_t i = 0; i < used && *got < want; ++i) {
        if (&lanes[i] == lane || idx_of(lanes[i].free_top.load(std::memory_order_relaxed)) == kNil)
            continue;
        if (steal(lane, lanes[i], want, first, last, got)) return PopResult::corrupt;
    }
    return *got ? PopResult::ok : PopResult::empty;
}

// Takes another lane's whole stack with one CAS: what we need extends our
// chain, the rest goes on our own stack. A producer that keeps finding the
// queue full then takes every node a consumer freed since its last look in
// one CAS on that consumer's lane line, not one CAS per node.
bool Queue::steal(Lane *lane, Lane &victim, uint32_t want, uint32_t *first, uint32_t *last,
                  uint32_t *got) {
    const uint32_t f = free_list::take_all(victim.free_top);
    if (f == kNil) return false;
    // The detached chain is ours alone; walk what we need of it.
    uint32_t cur, n, next;
    if (!free_list::walk(arena_, f, want - *got, &cur, &n, &next)) return true;
    if (*got == 0)
        *first = f;
    else
        arena_.node(*last)->free_next.store(f, std::memory_order_relaxed);
    *last = cur;
    *got += n;
    if (next == kNil) return false;
    // Only this lane's holder pushes onto its stack and nobody pops an empty
    // one, so if it is empty now it stays so until our CAS.
    uint64_t top = lane->free_top.load(std::memory_order_relaxed);
    if (idx_of(top) == kNil &&
        lane->free_top.compare_exchange_strong(top, bump(top, next), std::memory_order_seq_cst,
                                               std::memory_order_relaxed))
        return false;
    // Not reached unless the region was tampered with; push the slow way
    // rather than lose the nodes.
    uint32_t end;
    if (!free_list::find_end(arena_, next, &end)) return true;
    free_list::push_chain(arena_, lane->free_top, next, end);
    return false;
}

void Queue::free_chain(Lane *lane, uint32_t first, uint32_t last, uint32_t count) {
    // A chain as long as a lane's stack may grow goes to the global stack
    // directly: one CAS, where pushing it here and handing the stack over
    // also walked it to find its end.
    if (count >= lane_stack_max_) {
        free_list::push_chain(arena_, hdr_->free_top, first, last);
        return;
    }
    free_list::push_chain(arena_, lane->free_top, first, last);
    uint32_t n = lane->free_count.load(std::memory_order_relaxed) + count;
    lane->free_count.store(n, std::memory_order_relaxed);
    if (n >= lane_stack_max_) hand_over(lane);
}

void Queue::release_into(uint32_t n, uint32_t bits, Freed *f) {
    if (!ms_queue::release(arena_, n, bits)) return;
    if (f->first == kNil)
        f->first = n;
    else
        arena_.node(f->last)->free_next.store(n, std::memory_order_relaxed);
    f->last = n;
    ++f->count;
    f->ahead.add(arena_, n);
}

bool Queue::release_run(uint64_t run, Freed *f) {
    uint32_t c = run_first(run);
    const uint32_t count = run_count(run);
    if (count > arena_.count) return false;  // read from shared memory
    for (uint32_t k = 0; k < count; ++k) {
        if (!arena_.valid(c)) return false;
        // Read the link first: the release may free c. Until then the run's
        // nodes are allocated and off the list, so their links stay put.
        const uint32_t nx = idx_of(arena_.node(c)->next.load(std::memory_order_acquire));
        release_into(c, kTailPast, f);
        c = nx;
    }
    return true;
}

bool Queue::take_runs(Freed *f) {
    Lane *lanes = region_->lanes();
    const uint32_t used =
        std::min(hdr_->lanes_used.load(std::memory_order_acquire), region_->lane_count());
    for (uint32_t i = 0; i < used; ++i) {
        // seq_cst: the load half of the pair above, for a producer that
        // registered as a waiter (free on x86).
        if (lanes[i].pending.load(std::memory_order_seq_cst) == 0) continue;
        // acquire: the run's bits and links, written before it was published.
        const uint64_t run = lanes[i].pending.exchange(0, std::memory_order_acq_rel);
        if (!run) continue;
        // Its nodes were unlinked before we took it; tail at the end of the
        // list now has passed them. (In the other order, a run published
        // after tail reached the end could hold the node tail is at.) After
        // the first run tail is usually at the end already: two loads.
        if (!ms_queue::tail_to_end(arena_) || !release_run(run, f)) return false;
    }
    return true;
}

bool Queue::take_pending_runs(Lane *lane) {
    Freed f;
    if (!take_runs(&f)) mark_corrupt("queue list or a pending run is damaged");
    f.ahead.finish(arena_);
    if (f.count) free_chain(lane, f.first, f.last, f.count);
    return f.count != 0;
}

// Moves this lane's whole stack to the global one: one CAS each side.
void Queue::hand_over(Lane *lane) {
    lane->free_count.store(0, std::memory_order_relaxed);
    uint32_t first = free_list::take_all(lane->free_top);
    if (first == kNil) return;
    // The detached chain is ours alone; find its end (bounded: a cycle or
    // an index out of range is damage).
    uint32_t last;
    if (!free_list::find_end(arena_, first, &last)) {
        mark_corrupt("a lane's free stack is damaged");
        return;
    }
    free_list::push_chain(arena_, hdr_->free_top, first, last);
}

Errc Queue::try_enqueue(Lane *lane, const ConstBuf *msgs, uint32_t count, uint32_t *done) {
    uint32_t first = kNil, last = kNil, got = 0;
    free_list::PopResult popped = take_nodes(lane, count, &first, &last, &got);
    // Too few free nodes: consumers may hold some that only wait for proof
    // that tail passed them. Make it so and take them.
    if (popped != free_list::PopResult::corrupt && got < count && take_pending_runs(lane))
        popped = take_nodes(lane, count, &first, &last, &got);
    switch (popped) {
        case free_list::PopResult::empty:
            return Errc::full;
        case free_list::PopResult::corrupt:
            return mark_corrupt("free-list index out of range");
        case free_list::PopResult::ok:
            break;
    }
    // Start fetching the node our next enqueue will most likely take (the
    // one under our chain on the stack it came from): its line, usually
    // just written by a consumer, then arrives while we write this message
    // instead of stalling the next one. A hint only; checked, never trusted.
    if (const uint32_t nx = arena_.node(last)->free_next.load(std::memory_order_relaxed);
        arena_.valid(nx))
        arena_.prefetch_node(nx, true);
    // The chain is ours alone now; only its atomics may still be read by
    // threads holding stale indices, and they will fail their CASes.
    uint32_t cur = first;
    AheadLinker ahead;
    for (uint32_t i = 0; i < got; ++i) {
        NodeHeader *n = arena_.node(cur);
        ahead.add(arena_, cur);
        n->len.store(static_cast<uint32_t>(msgs[i].len), std::memory_order_relaxed);
        if (msgs[i].len) std::memcpy(arena_.data(cur), msgs[i].data, msgs[i].len);
        uint32_t nxt = i + 1 < got ? n->free_next.load(std::memory_order_relaxed) : kNil;
        // pop_chain checked these links, but a damaged region may share a
        // node of our chain with a list another process is rewiring.
        if (i + 1 < got && !arena_.valid(nxt)) return mark_corrupt("free-list index out of range");
        ms_queue::set_next(arena_, cur, nxt);  // E3, with the chain's inner links
        cur = nxt;
    }
    ahead.finish(arena_);
    if (!ms_queue::link_chain(arena_, first, last))
        return mark_corrupt("queue list is damaged (index out of range or a cycle)");
    lane->enqueued.store(lane->enqueued.load(std::memory_order_relaxed) + got,
                         std::memory_order_relaxed);
    *done = got;
    return Errc::ok;
}

Errc Queue::try_dequeue(Lane *lane, MutBuf *bufs, uint32_t count, uint32_t *done) {
    uint32_t ids[kMaxClaim];
    *done = 0;
    while (*done < count) {
        MutBuf *b = bufs + *done;
        uint32_t want = count - *done < kMaxClaim ? count - *done : kMaxClaim;
        ms_queue::Claimed c{};
        uint32_t first_len = 0;
        auto fits = [b](uint32_t i, uint32_t len) { return len <= b[i].cap; };
        switch (ms_queue::claim(arena_, want, ids, fits, &c, &first_len)) {
            case ms_queue::Claim::empty:
                return *done ? Errc::ok : fail_static(Errc::empty, "queue is empty");
            case ms_queue::Claim::too_big:
                if (*done) return Errc::ok;
                b[0].len = first_len;
                return fail(Errc::msgsize, "message of %u bytes does not fit a %zu-byte buffer",
                            first_len, b[0].cap);
            case ms_queue::Claim::corrupt:
                return mark_corrupt("queue list index out of range");
            case ms_queue::Claim::ok:
                break;
        }
        bool bad = false, bad_run = false;
        for (uint32_t j = 0; j < c.count; ++j) {
            uint32_t len = arena_.node(ids[j])->len.load(std::memory_order_relaxed);
            if (len > arena_.max_len || len > b[j].cap) {
                bad = true;
                len = 0;
            }
            if (len) std::memcpy(b[j].data, arena_.data(ids[j]), len);
            b[j].len = len;
        }
        // Done with: S = the old dummy (unlinked) and every claimed node but
        // the last (copied and unlinked); the last, the new dummy, copied.
        // Of S, the first `known` are known to be passed by tail, and so is
        // our pending run if we saw any hard link; the rest of S is our new
        // pending run (S is contiguous along the list).
        auto S = [&](int32_t k) { return k == 0 ? c.old_dummy : ids[k - 1]; };
        const int32_t n = static_cast<int32_t>(c.count);  // |S|
        const int32_t known = c.last_hard < 0 ? 0 : std::min(c.last_hard, n);
        Freed f;
        uint64_t old = lane->pending.load(std::memory_order_relaxed);
        if (old) old = lane->pending.exchange(0, std::memory_order_acq_rel);  // may be taken
        if (old && c.last_hard >= 0) {
            if (!release_run(old, &f)) bad_run = true;
            old = 0;
        }
        for (int32_t k = 0; k < n; ++k)
            release_into(
                S(k), (k == 0 ? kUnlinked : kCopied | kUnlinked) | (k < known ? kTailPast : 0), &f);
        release_into(ids[c.count - 1], kCopied, &f);
        uint64_t run = known < n ? pending_run(S(known), static_cast<uint32_t>(n - known)) : 0;
        if (old) {
            // Still unproven: if it ends right before S (no other consumer in
            // between), one run holds both; else prove it the slow way.
            if (run && lane->pending_next.load(std::memory_order_relaxed) == c.old_dummy) {
                run = pending_run(run_first(old), run_count(old) + run_count(run));
            } else if (!ms_queue::tail_to_end(arena_) || !release_run(old, &f)) {
                bad_run = true;
            }
        }
        // release: the run's bits and links are visible to whoever takes it.
        // seq_cst RMW, not a store: it is the store half of the store-load
        // pair with a producer asleep on a full queue (wake_not_full loads
        // the waiter count next; a plain store could pass that load).
        if (run) {
            lane->pending_next.store(ids[c.count - 1], std::memory_order_relaxed);
            lane->pending.exchange(run, std::memory_order_seq_cst);
        }
        f.ahead.finish(arena_);
        if (f.count) free_chain(lane, f.first, f.last, f.count);
        lane->dequeued.store(lane->dequeued.load(std::memory_order_relaxed) + c.count,
                             std::memory_order_relaxed);
        *done += c.count;
        if (bad_run) return mark_corrupt("a pending run's links are damaged");
        if (bad) return mark_corrupt("a message length exceeds max_message_size");
        if (c.count < want) break;  // the queue ran dry or a buffer was too small
    }
    return Errc::ok;
}

Errc Queue::enqueue(const void *data, size_t len) {
    ConstBuf m{data, len};
    int r = enqueue_batch(&m, 1);
    return r > 0 ? Errc::ok : static_cast<Errc>(r);
}

Errc Queue::dequeue(void *buf, size_t cap, size_t *len) {
    MutBuf b{buf, cap, 0};
    int r = dequeue_batch(&b, 1);
    if (r > 0 || r == static_cast<int>(Errc::msgsize)) *len = b.len;
    return r > 0 ? Errc::ok : static_cast<Errc>(r);
}

int Queue::enqueue_batch(const ConstBuf *msgs, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i)
        if (msgs[i].len > arena_.max_len)
            return static_cast<int>(fail(Errc::msgsize,
                                         "message %u is %zu bytes; queue %s takes at most %u", i,
                                         msgs[i].len, region_->name().c_str(), arena_.max_len));
    Errc e;
    Lane *lane = enter(&e);
    if (!lane) return static_cast<int>(e);
    uint32_t done = 0;
    e = try_enqueue(lane, msgs, count, &done);
    leave(lane);
    if (e == Errc::ok) {
        wake_not_empty();
        return static_cast<int>(done);
    }
    if (e == Errc::full && maybe_recover_on_full()) {
        // Recovery may have returned nodes; one more try.
        lane = enter(&e);
        if (!lane) return static_cast<int>(e);
        e = try_enqueue(lane, msgs, count, &done);
        leave(lane);
        if (e == Errc::ok) {
            wake_not_empty();
            return static_cast<int>(done);
        }
    }
    // Static text: producers poll on this code, no formatting here.
    if (e == Errc::full) fail_static(Errc::full, "queue is full");
    return static_cast<int>(e);
}

int Queue::dequeue_batch(MutBuf *bufs, uint32_t count) {
    Errc e;
    Lane *lane = enter(&e);
    if (!lane) return static_cast<int>(e);
    uint32_t done = 0;
    e = try_dequeue(lane, bufs, count, &done);
    leave(lane);
    if (done) wake_not_full();
    if (e != Errc::ok) return static_cast<int>(e);
    return static_cast<int>(done);
}

// Spin, then sleep on a futex word in the region until `op` stops returning
// `again` or the deadline passes. The waiter registers itself in `waiters`
// before its last check (the load half of the handshake in wake_not_empty /
// wake_not_full) and marks `lane_bit` in its lane so that recovery can take
// the count back if this process dies asleep.
template <typename Op>
Errc Queue::wait_for(Op op, Errc again, Atomic32 &waiters, Atomic32 &seq_word, uint32_t lane_bit,
                     int64_t timeout_ns, const char *state) {
    const uint64_t deadline = deadline_after(timeout_ns);
    // seq_cst: a wait that began before interrupt() moved the counter sees it
    // move, whichever of its loads (below) comes first.
    const uint32_t interrupts = interrupts_.load(std::memory_order_seq_cst);
    auto interrupted = [&] {
        return interrupts_.load(std::memory_order_seq_cst) != interrupts
                   ? fail(Errc::canceled, "queue %s: the wait was ended by cq_interrupt",
                          region_->name().c_str())
                   : Errc::ok;
    };
    for (int i = 0; i < kSpinTries; ++i) {
        Errc e = op();
        if (e != again) return e;
        if (timeout_ns == 0) return fail(Errc::timedout, "queue is %s and timeout is 0", state);
        if (Errc c = interrupted(); c != Errc::ok) return c;
        cpu_relax();
    }
    bool unused;
    Lane *lane = lanes_->for_this_thread(&unused);
    if (!lane) return Errc::busy;
    waiters.fetch_add(1, std::memory_order_seq_cst);
    lane->waiting.fetch_or(lane_bit, std::memory_order_relaxed);
    Errc e;
    for (;;) {
        // interrupt() moves its counter, then seq_word, then wakes: if this
        // load sees the old seq the futex_wait below returns at once, and
        // if it sees the new one the check after it sees the new counter.
        uint32_t seq = seq_word.load(std::memory_order_seq_cst);
        e = op();
        if (e != again) break;
        if (e = interrupted(); e != Errc::ok) break;
        e = again;
        if (monotonic_ns() >= deadline) {
            e = fail(Errc::timedout, "queue %s stayed %s", region_->name().c_str(), state);
            break;
        }
        futex_wait(futex_word(seq_word), seq, deadline);
    }
    lane->waiting.fetch_and(~lane_bit, std::memory_order_relaxed);
    waiters.fetch_sub(1, std::memory_order_seq_cst);
    return e;
}

Errc Queue::enqueue_wait(const void *data, size_t len, int64_t timeout_ns) {
    return wait_for([&] { return enqueue(data, len); }, Errc::full, hdr_->not_full_waiters,
                    hdr_->not_full_seq, 2u, timeout_ns, "full");
}

Errc Queue::dequeue_wait(void *buf, size_t cap, size_t *len, int64_t timeout_ns) {
    return wait_for([&] { return dequeue(buf, cap, len); }, Errc::empty, hdr_->not_empty_waiters,
                    hdr_->not_empty_seq, 1u, timeout_ns, "empty");
}

void Queue::interrupt() {
    interrupts_.fetch_add(1, std::memory_order_seq_cst);
    // Waiters of other processes wake too, find nothing changed, sleep again.
    for (Atomic32 *w : {&hdr_->not_empty_seq, &hdr_->not_full_seq}) {
        w->fetch_add(1, std::memory_order_seq_cst);
        futex_wake(futex_word(*w), INT_MAX);
    }
}

bool Queue::any_dead_lane() {
    const uint32_t used = hdr_->lanes_used.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < used && i < region_->lane_count(); ++i)
        if (lanes_->state_of(i) == LaneSet::State::dead) return true;
    return false;
}

bool Queue::maybe_recover_on_full() {
    if (!auto_recover_) return false;
    uint64_t now = monotonic_ns();
    uint64_t last = last_full_check_ns_.load(std::memory_order_relaxed);
    if (now - last < kFullCheckNs ||
        !last_full_check_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed))
        return false;
    if (!any_dead_lane()) return false;
    recover(nullptr);
    return true;
}

Errc Queue::recover(uint64_t *reclaimed, Audit *audit) {
    if (Errc e = check_usable(); e != Errc::ok) return e;
    bool took_dead = false;
    Lane *lane = lanes_->for_this_thread(&took_dead);
    if (!lane) return Errc::busy;
    return reap(lane, reclaimed, audit);
}

Errc Queue::stats(QueueStats *out) {
    if (Errc e = check_usable(); e != Errc::ok) return e;
    QueueStats s{};
    s.capacity = capacity();
    s.max_message_size = arena_.max_len;
    s.reclaimed = hdr_->reclaimed.load(std::memory_order_relaxed);
    s.recoveries = hdr_->recoveries.load(std::memory_order_relaxed);
    const uint32_t used = hdr_->lanes_used.load(std::memory_order_acquire);
    Lane *lanes = region_->lanes();
    for (uint32_t i = 0; i < used && i < region_->lane_count(); ++i) {
        s.enqueued += lanes[i].enqueued.load(std::memory_order_relaxed);
        s.dequeued += lanes[i].dequeued.load(std::memory_order_relaxed);
        switch (lanes_->state_of(i)) {
            case LaneSet::State::live:
                ++s.lanes_live;
                break;
            case LaneSet::State::dead:
                ++s.lanes_dead;
                break;
            case LaneSet::State::unused:
                break;
        }
    }
    // Walks, bounded by the node count: exact when no operation is in
    // flight, an estimate otherwise.
    uint32_t cur = idx_of(hdr_->head.load(std::memory_order_acquire));
    for (uint64_t steps = 0; arena_.valid(cur) && steps < arena_.count; ++steps) {
        uint32_t nx = idx_of(arena_.node(cur)->next.load(std::memory_order_acquire));
        if (nx == kNil) break;
        ++s.length;
        cur = nx;
    }
    auto count_stack = [&](const Atomic64 &top) {
        uint32_t c = idx_of(top.load(std::memory_order_acquire));
        for (uint64_t steps = 0; arena_.valid(c) && steps < arena_.count; ++steps) {
            ++s.free_nodes;
            c = arena_.node(c)->free_next.load(std::memory_order_relaxed);
        }
    };
    count_stack(hdr_->free_top);
    for (uint32_t i = 0; i < used && i < region_->lane_count(); ++i) {
        count_stack(lanes[i].free_top);
        // Finished by a consumer, taken by a producer that needs them.
        s.free_nodes += run_count(lanes[i].pending.load(std::memory_order_relaxed));
    }
    *out = s;
    return Errc::ok;
}

}  // namespace cq
