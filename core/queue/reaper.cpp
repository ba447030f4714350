// Recovery: return the nodes a dead process held to the free list.
//
// Every node is on the queue list, on the free list, in a lane's pending
// run (unlinked and finished, waiting for proof that tail passed it),
// between a lagging tail and head, or held privately by an operation in
// progress. A process killed mid-operation leaves its private nodes in none
// of these places, and nobody else will ever touch them. Recovery stops the
// world, finds them by reachability, and pushes them back:
//
//  1. Close the gate (a word in the header). New operations see it and wait;
//     the asymmetric fence pairs with their "active" store (Queue::enter).
//  2. Wait, bounded, for every live lane to leave its operation. Lanes of
//     dead processes (OFD lock gone) are ignored: they will never act again.
//  3. Scan: mark every node reachable from head, from every lane's pending
//     run, from tail up to head (when head has passed it), and from the free
//     lists. A quiescent live lane holds nothing else, so every unmarked node
//     is an orphan of a dead process. Nodes between tail and head that no
//     pending run holds, and a dummy not marked copied, were claimed by a
//     consumer that died: note what it owed. The scan also finds damage
//     (out-of-range indices, cycles, a tail off the list) and marks the
//     queue corrupt.
//  4. Reopen the gate with a CAS that succeeds only if no waiter broke it
//     (waiters break a gate whose deadline passed, so a stopped reaper
//     blocks nobody for long). Success proves the scan saw a stopped world.
//  5. Push the orphans; set what the dead owed; move tail to the end of the
//     list (helping, as a producer would), which passes every node unlinked
//     so far, and free those behind head and every lane's pending run (taken
//     with an exchange, so its holder or a producer cannot free it too).
//     Orphans stay orphans after the gate reopens (no live process can reach
//     them) and an owed bit has no other owner, so this runs concurrently
//     with operations. Our own lane stays active until then, so a second
//     reaper cannot scan (and double-free) them while we are alive; if we
//     die first, they are still orphans for the next one.
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
    // Nodes between tail and head that no pending run holds: their consumer
    // died before recording them. With the done bits it owed; after tail is
    // moved to the end they get kTailPast too.
    std::vector<std::pair<uint32_t, uint32_t>> behind;
    // Nodes in pending runs whose claimer died before copying them: a node
    // a consumer claimed (as its new dummy) and died on, unlinked since by
    // another consumer's claim into that one's pending run. The world is
    // stopped, so every live claimer has copied what it claimed.
    std::vector<uint32_t> run_uncopied;
    uint32_t dummy = kNil;
    bool dummy_uncopied = false;  // the head dummy's claimer died before copying
    const char *damage = nullptr;
};

// Marks every list; the world is stopped.
void scan(const Arena &a, const Lane *lanes, uint32_t lane_count, Marks &marks, Scan *s) {
    const RegionHeader *h = a.hdr;
    uint32_t head = idx_of(h->head.load(std::memory_order_acquire));
    const uint32_t tail = idx_of(h->tail.load(std::memory_order_acquire));
    if (!a.valid(head) || !a.valid(tail)) {
        s->damage = "head or tail index out of range";
        return;
    }
    const uint32_t used = std::min(h->lanes_used.load(std::memory_order_acquire), lane_count);
    // Pending runs first (a lagging tail may lead through them).
    Marks pending(a.count);
    for (uint32_t i = 0; i < used; ++i) {
        const uint64_t run = lanes[i].pending.load(std::memory_order_acquire);
        uint32_t c = run_first(run);
        for (uint32_t k = 0; k < run_count(run); ++k) {
            if (!a.valid(c) || k >= a.count || marks.test_and_set(c)) {
                s->damage = "a lane's pending run is damaged";
                return;
            }
            pending.test_and_set(c);
            ++s->audit.held;
            if (!(a.node(c)->done.load(std::memory_order_acquire) & kCopied))
                s->run_uncopied.push_back(c);
            c = idx_of(a.node(c)->next.load(std::memory_order_acquire));
        }
    }
    // The dummy's message was copied, unless its claimer died first.
    s->dummy = head;
    s->dummy_uncopied = !(a.node(head)->done.load(std::memory_order_acquire) & kCopied);
    // The list.
    if (marks.test_and_set(head)) {
        s->damage = "the head dummy is also in a pending run";
        return;
    }
    bool tail_on_list = head == tail;
    for (uint32_t cur = head;;) {
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
    // Head passed a lagging tail: the nodes from tail up to head are off the
    // list and stay allocated until tail passes them. Those in no pending
    // run were claimed by a consumer that died before recording them.
    if (!tail_on_list) {
        uint32_t c = tail;
        for (uint64_t steps = 0; c != head; ++steps) {
            if (steps >= a.count) {
                s->damage = "tail is neither on the queue list nor behind its head";
                return;
            }
            if (!pending.test(c)) {
                if (marks.test_and_set(c)) {
                    s->damage = "tail is neither on the queue list nor behind its head";
                    return;
                }
                const uint32_t done = a.node(c)->done.load(std::memory_order_acquire);
                s->behind.emplace_back(c, (kCopied | kUnlinked) & ~done);
                ++s->audit.held;
            }
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
    if (!hdr_->gate.compare_exchange_strong(g, closed, std::memory_order_seq_cst)) {
        leave(self);
        return fail(Errc::busy, "another process is recovering %s", region_->name().c_str());
    }
    // Named only once the gate is ours: a reaper that lost the CAS must not
    // overwrite the winner's name (its own next operation would then take
    // the winner's gate for one it holds itself, and break it). Waiters
    // give a closed gate a grace period before they look at its holder.
    hdr_->gate_holder.store(lanes_->index_of(self), std::memory_order_release);
    heavy_fence();

    auto reopen = [&] {
        uint64_t c = closed;
        hdr_->gate.compare_exchange_strong(c, gate_open(gen + 1), std::memory_order_seq_cst);
        leave(self);
    };

    // 2. Quiesce.
    const uint32_t me = lanes_->index_of(self);
    const uint32_t used =
        std::min(hdr_->lanes_used.load(std::memory_order_seq_cst), region_->lane_count());
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
        scan(arena_, region_->lanes(), region_->lane_count(), marks, &s);
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
        // Damage counts only if the gate held for the whole scan: if a
        // waiter broke it (we overran the deadline), the scan saw a queue
        // at work, and what looked damaged may only have been in flight.
        uint64_t c = closed;
        const bool held =
            hdr_->gate.compare_exchange_strong(c, gate_open(gen + 1), std::memory_order_seq_cst);
        leave(self);
        if (!held)
            return fail(Errc::busy, "recovery of %s overran its deadline and was cancelled",
                        region_->name().c_str());
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
    // What the dead owed, exactly once (the scan proved nobody else will):
    // the dummy's copy, and the nodes behind head that no run records.
    // Those, and every pending run (a live holder's too: the exchange makes
    // whoever takes a run its only releaser), are freed once tail is at the
    // end of the list, which passes them all.
    Freed f;
    if (s.dummy_uncopied) release_into(s.dummy, kCopied, &f);
    // Nobody else sets kCopied on these, so they stay allocated until this
    // (whoever takes their run meanwhile adds kTailPast; the last bit frees).
    for (uint32_t n : s.run_uncopied) release_into(n, kCopied, &f);
    // take_runs moves tail to the end after taking each run; the nodes
    // behind head were unlinked before this, so that passes them too (the
    // tail_to_end here covers a reap that finds no run).
    if (!take_runs(&f) || !ms_queue::tail_to_end(arena_)) {
        leave(self);
        return mark_corrupt("queue list or a pending run is damaged");
    }
    for (auto [n, bits] : s.behind) release_into(n, bits | kTailPast, &f);
    f.ahead.finish(arena_);
    if (f.count) push(f.first, f.last, f.count);
    for (auto &[i, owner] : dead) lanes_->retire_dead(i, owner);
    hdr_->recoveries.fetch_add(1, std::memory_order_relaxed);
    leave(self);
    if (freed) wake_not_full();
    if (reclaimed) *reclaimed = orphans.size();
    if (audit) *audit = s.audit;
    return Errc::ok;
}

}  // namespace cq
