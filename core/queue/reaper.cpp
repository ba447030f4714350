// Recovery: return the nodes a dead process held to the free list.
//
// Every node is on the queue list, on the free list, held privately by an
// operation in progress, or (while tail lags behind head) off the list
// between tail and head, waiting for tail to pass it. A process killed
// mid-operation leaves its private nodes on none of these, and nobody else
// will ever touch them. Recovery stops the world, finds them by
// reachability, and pushes them back:
//
//  1. Close the gate (a word in the header). New operations see it and wait;
//     the asymmetric fence pairs with their "active" store (Queue::enter).
//  2. Wait, bounded, for every live lane to leave its operation. Lanes of
//     dead processes (OFD lock gone) are ignored: they will never act again.
//  3. Scan: mark every node reachable from head, from tail and from the free
//     lists. A quiescent live lane holds nothing, so every unmarked node is
//     an orphan of a dead process; and a `done` bit (ms_queue.hpp) that a
//     reachable node lacks although its owner's step is visibly over was
//     owed by the dead. The scan also finds damage (out-of-range indices,
//     cycles, a tail off the list) and marks the queue corrupt.
//  4. Reopen the gate with a CAS that succeeds only if no waiter broke it
//     (waiters break a gate whose deadline passed, so a stopped reaper
//     blocks nobody for long). Success proves the scan saw a stopped world.
//  5. Push the orphans, set the owed bits, and swing a tail left behind by
//     a dead producer to the end of the list (a CAS, as a helping producer
//     would). Orphans stay orphans after the gate reopens (no live process
//     can reach them) and an owed bit has no other owner, so this runs
//     concurrently with operations. Our own lane stays active until then,
//     so a second reaper cannot scan (and double-free) them while we are
//     alive; if we die first, they are still orphans for the next one.
#include <algorithm>
#include <bit>
#include <new>
#include <vector>

#include "core/queue/free_list.hpp"
#include "core/queue/ms_queue.hpp"
#include "core/queue/queue.hpp"
#include "core/shm/fence.hpp"
#include "core/util/clock.hpp"

namespace cq {
using namespace layout;

namespace {

class Marks {
  public:
    explicit Marks(uint32_t n) : bits_((uint64_t{n} + 63) / 64, 0) {}
    bool test_and_set(uint32_t i) {
        uint64_t &w = bits_[i / 64];
        uint64_t m = uint64_t{1} << (i % 64);
        bool was = w & m;
        w |= m;
        return was;
    }
    bool test(uint32_t i) const { return bits_[i / 64] & (uint64_t{1} << (i % 64)); }

  private:
    std::vector<uint64_t> bits_;
};

struct Scan {
    Audit audit;
    std::vector<std::pair<uint32_t, uint32_t>> owed;  // (node, done bits) the dead owed
    uint64_t tail = 0;                                // tail word as scanned
    uint32_t end = kNil;  // last node of the list (tail lags if it is not tail)
    const char *damage = nullptr;
};

// Marks both lists; the world is stopped.
void scan(const Arena &a, const Lane *lanes, Marks &marks, Scan *s) {
    const RegionHeader *h = a.hdr;
    uint32_t head = idx_of(h->head.load(std::memory_order_acquire));
    s->tail = h->tail.load(std::memory_order_acquire);
    const uint32_t tail = idx_of(s->tail);
    if (!a.valid(head) || !a.valid(tail)) {
        s->damage = "head or tail index out of range";
        return;
    }
    auto owe = [&](uint32_t n, uint32_t bits) {
        const uint32_t missing = bits & ~a.node(n)->done.load(std::memory_order_acquire);
        if (missing) s->owed.emplace_back(n, missing);
    };
    // The dummy's message was copied, unless its claimer died first.
    owe(head, kCopied);
    // The list.
    marks.test_and_set(head);
    bool tail_on_list = head == tail;
    uint32_t cur = head;
    for (;;) {
        uint32_t nx = idx_of(a.node(cur)->next.load(std::memory_order_acquire));
        if (nx == kNil) break;
        if (!a.valid(nx)) {
            s->damage = "a queued node links to an index out of range";
            return;
        }
        if (marks.test_and_set(nx)) {
            s->damage = "the queue list has a cycle";
            return;
        }
        if (a.node(nx)->len.load(std::memory_order_relaxed) > a.max_len) {
            s->damage = "a queued message is longer than max_message_size";
            return;
        }
        ++s->audit.queued;
        tail_on_list |= nx == tail;
        cur = nx;
    }
    s->end = cur;
    // Nodes before tail on the list were passed by a tail CAS whose maker
    // releases kTailPast right after; if it is missing, that maker died.
    if (tail_on_list)
        for (uint32_t c = head; c != tail;
             c = idx_of(a.node(c)->next.load(std::memory_order_acquire)))
            owe(c, kTailPast);
    // Head passed a lagging tail: the nodes from tail up to head are off the
    // list, claimed and unlinked (owed by the dead if not marked so), and
    // stay allocated until tail passes them.
    if (!tail_on_list) {
        uint32_t c = tail;
        for (uint64_t steps = 0; c != head; ++steps) {
            if (steps >= a.count || marks.test_and_set(c)) {
                s->damage = "tail is neither on the queue list nor behind its head";
                return;
            }
            owe(c, kCopied | kUnlinked);
            ++s->audit.held;
            c = idx_of(a.node(c)->next.load(std::memory_order_acquire));
            if (!a.valid(c)) {
                s->damage = "tail is neither on the queue list nor behind its head";
                return;
            }
        }
    }
    // The global free stack and every lane's (live or dead: a dead lane's
    // stack is still a well-formed list that anyone may pop from).
    auto walk = [&](const Atomic64 &top) {
        for (uint32_t c = idx_of(top.load(std::memory_order_acquire)); c != kNil;
             c = a.node(c)->free_next.load(std::memory_order_relaxed)) {
            if (!a.valid(c)) {
                s->damage = "a free-list link is out of range";
                return false;
            }
            if (marks.test_and_set(c)) {
                s->damage = "a free list has a cycle or shares a node with another list";
                return false;
            }
            ++s->audit.free;
        }
        return true;
    };
    if (!walk(h->free_top)) return;
    const uint32_t used = std::min(h->lanes_used.load(std::memory_order_acquire), h->lane_count);
    for (uint32_t i = 0; i < used; ++i)
        if (!walk(lanes[i].free_top)) return;
    s->audit.orphans = uint64_t{a.count} - 1 - s->audit.queued - s->audit.free - s->audit.held;
}

}  // namespace

Errc Queue::reap(Lane *self, uint64_t *reclaimed, Audit *audit) {
    if (reclaimed) *reclaimed = 0;
    // Enter like an operation, so that a concurrent reaper waits for us.
    uint64_t g;
    for (;;) {
        self->active.exchange(1, std::memory_order_seq_cst);
        g = hdr_->gate.load(std::memory_order_seq_cst);
        if (!gate_closed(g)) break;
        wait_gate(self);
    }
    const uint64_t gen = gate_gen(g);
    const uint64_t deadline_ms = monotonic_ns() / 1'000'000 + gate_budget_ms();
    const uint64_t closed = gate_close(gen, deadline_ms);
    hdr_->gate_holder.store(lanes_->index_of(self), std::memory_order_release);
    if (!hdr_->gate.compare_exchange_strong(g, closed, std::memory_order_seq_cst)) {
        leave(self);
        return fail(Errc::busy, "another process is recovering %s", region_->name().c_str());
    }
    heavy_fence();

    auto reopen = [&] {
        uint64_t c = closed;
        hdr_->gate.compare_exchange_strong(c, gate_open(gen + 1), std::memory_order_seq_cst);
        leave(self);
    };

    // 2. Quiesce.
    const uint32_t me = lanes_->index_of(self);
    const uint32_t used =
        std::min(hdr_->lanes_used.load(std::memory_order_seq_cst), hdr_->lane_count);
    Lane *lanes = region_->lanes();
    std::vector<std::pair<uint32_t, uint64_t>> dead;
    const uint64_t quiesce_deadline = monotonic_ns() + kQuiesceMs * 1'000'000;
    for (uint32_t i = 0; i < used; ++i) {
        if (i == me) continue;
        uint64_t owner = lanes[i].owner.load(std::memory_order_acquire);
        if (owner == 0) continue;
        for (int spins = 0;; ++spins) {
            LaneSet::State st = lanes_->state_of(i);
            if (st == LaneSet::State::dead) {
                dead.emplace_back(i, owner);
                break;
            }
            if (st == LaneSet::State::unused ||
                lanes[i].active.load(std::memory_order_seq_cst) == 0)
                break;
            if (monotonic_ns() > quiesce_deadline) {
                reopen();
                return fail(Errc::busy,
                            "recovery of %s gave up: lane %u (pid %llu) stayed inside an "
                            "operation (stopped?)",
                            region_->name().c_str(), i,
                            static_cast<unsigned long long>(owner >> 32));
            }
            if (spins < 100)
                cpu_relax();
            else
                sleep_ns(50'000);
        }
    }

    // 3. Scan.
    Scan s;
    std::vector<uint32_t> orphans;
    try {
        Marks marks(arena_.count);
        scan(arena_, region_->lanes(), marks, &s);
        if (!s.damage && s.audit.orphans) {
            orphans.reserve(s.audit.orphans);
            for (uint32_t i = 0; i < arena_.count; ++i)
                if (!marks.test(i)) orphans.push_back(i);
        }
    } catch (const std::bad_alloc &) {
        reopen();
        return fail(Errc::nomem, "recovery of %s: no memory for the scan", region_->name().c_str());
    }
    if (s.damage) {
        reopen();
        return mark_corrupt(s.damage);
    }

    // 4. Reopen; failure means a waiter broke the gate and the scan is void.
    uint64_t c = closed;
    if (!hdr_->gate.compare_exchange_strong(c, gate_open(gen + 1), std::memory_order_seq_cst)) {
        leave(self);
        return fail(Errc::busy, "recovery of %s overran its deadline and was cancelled",
                    region_->name().c_str());
    }

    // 5. Commit (still active: see the top of the file).
    uint64_t freed = 0;
    auto push = [&](uint32_t first, uint32_t last, uint64_t count) {
        free_list::push_chain(arena_, hdr_->free_top, first, last);
        freed += count;
    };
    if (!orphans.empty()) {
        for (size_t k = 0; k < orphans.size(); ++k) {
            NodeHeader *n = arena_.node(orphans[k]);
            n->done.store(0, std::memory_order_relaxed);
            n->free_next.store(k + 1 < orphans.size() ? orphans[k + 1] : kNil,
                               std::memory_order_relaxed);
        }
        push(orphans.front(), orphans.back(), orphans.size());
        hdr_->reclaimed.fetch_add(orphans.size(), std::memory_order_relaxed);
    }
    // What the dead owed, exactly once (the scan proved nobody else will).
    for (auto [n, bits] : s.owed)
        if (ms_queue::release(arena_, n, bits)) push(n, n, 1);
    // A producer that died between linking (E9) and swinging tail (E17)
    // left tail behind; nothing is freed behind it until a producer comes.
    // Swing it as that producer would have, releasing what it passes.
    if (idx_of(s.tail) != s.end) {
        uint64_t t = s.tail;
        if (hdr_->tail.compare_exchange_strong(t, bump(t, s.end), std::memory_order_acq_rel,
                                               std::memory_order_relaxed)) {
            // Tail was still where we scanned it, so nothing from there to
            // end was freed and the links are those we walked.
            uint32_t c = idx_of(s.tail);
            for (uint64_t steps = 0; c != s.end && steps < arena_.count; ++steps) {
                const uint32_t nx = idx_of(arena_.node(c)->next.load(std::memory_order_relaxed));
                if (ms_queue::release(arena_, c, kTailPast)) push(c, c, 1);
                if (!arena_.valid(nx)) break;  // damage after the scan: the next scan finds it
                c = nx;
            }
        }
    }
    for (auto &[i, owner] : dead) lanes_->retire_dead(i, owner);
    hdr_->recoveries.fetch_add(1, std::memory_order_relaxed);
    leave(self);
    if (freed) wake_not_full();
    if (reclaimed) *reclaimed = orphans.size();
    if (audit) *audit = s.audit;
    return Errc::ok;
}

}  // namespace cq
