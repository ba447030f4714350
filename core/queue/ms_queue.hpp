// Michael & Scott's non-blocking queue (PODC '96, figure 1) over the node
// arena, with counted ("tagged") links so that no pointer lives in shared
// memory. Labels E5..E17 and D2..D13 refer to the paper's pseudocode.
//
// Three departures from the paper, all for shared memory:
//  - Claim, then copy. The paper copies the value out of head->next before
//    the head CAS (D11) and frees the old dummy at once. Messages here are up
//    to megabytes, and copying a node that another consumer may recycle is a
//    data race; instead the CAS claims the message and the consumer copies
//    it afterwards.
//  - Dequeues never read tail. The paper reads tail on every dequeue (D3,
//    D6, D10) so that head never passes tail: tail must not name a node that
//    is freed. Tail is a line every producer writes, and a consumer that
//    keeps up with its producer read it on every message. Instead a node is
//    freed only once tail is known to have passed it, so head may pass a
//    lagging tail: every node from tail onwards stays allocated, and a
//    producer that finds tail lagging helps it forward as in the paper. A
//    node is reused after three things (NodeHeader::done): its consumer
//    copied it, a dequeue unlinked it, and tail is known to have passed it.
//  - Knowing that tail passed a node, without touching it. A producer's
//    linking CAS (E9) onto node y succeeds only while y is the last node, so
//    tail had reached y: every node before y is passed. E9 marks its link
//    "hard" (a tag bit, layout::kHardLink), and a consumer that reads a hard
//    link after the nodes it unlinked frees them: usually one dequeue later,
//    from the very word it reads to find the next message. The producer never
//    touches a node's line after linking onto it (writing there, with the
//    consumer polling that line, cost 1.3-2x in 1P1C; bench/RESULTS.md).
//    Until then they are the consumer lane's pending run (Lane::pending),
//    which a producer that finds the queue full, or recovery, can take.
//  - Chains. A producer links a pre-built chain of nodes with one CAS on the
//    last node's next (E9), and a consumer claims a run of messages with one
//    CAS on head (D13); the paper's tail-helping step handles both.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/queue/arena.hpp"
#include "core/queue/free_list.hpp"

namespace cq::ms_queue {

using layout::bump;
using layout::idx_of;
using layout::kNil;
using layout::tag_of;
using layout::tagged;

// Consecutive tail-helping steps one operation may take before it calls the
// list cyclic. Helping more than node_count times in a row needs either a
// cycle or other processes completing tens of thousands of operations exactly
// between this thread's loads; the slack makes the latter impossible in
// practice, since a false alarm would mark a healthy queue corrupt.
inline uint64_t help_limit(const Arena &a) {
    return uint64_t{a.count} + 65536;
}

// Marks `bits` done on node n (see NodeHeader::done). Returns true if that
// completed the set: the node is free and the caller must put it on a free
// stack. Each bit has one owner per life of the node, which sets it after
// its last access; acquire/acq_rel make those accesses happen-before the
// free and any reuse.
inline bool release(const Arena &a, uint32_t n, uint32_t bits) {
    auto &done = a.node(n)->done;
    // Seeing every other bit set means the others are finished and nobody
    // else will write `done`: skip the locked RMW (the common case, when the
    // last party comes well after the others).
    if ((done.load(std::memory_order_acquire) | bits) == layout::kDoneAll ||
        (done.fetch_or(bits, std::memory_order_acq_rel) | bits) == layout::kDoneAll) {
        done.store(0, std::memory_order_relaxed);
        return true;
    }
    return false;
}

// Appends the chain first..last, whose next links are already set (last's to
// kNil). Returns false if the list is damaged (index out of range, or more
// tail-helping steps than there are nodes, as a planted cycle would cause).
inline bool link_chain(const Arena &a, uint32_t first, uint32_t last) {
    auto &tail_word = a.hdr->tail;
    uint64_t helps = 0;
    uint64_t t;
    for (;;) {
        t = tail_word.load(std::memory_order_acquire);  // E5
        if (!a.valid(idx_of(t))) return false;
        auto &next_word = a.node(idx_of(t))->next;
        uint64_t next = next_word.load(std::memory_order_acquire);     // E6
        if (t != tail_word.load(std::memory_order_acquire)) continue;  // E7
        if (idx_of(next) == kNil) {                                    // E8
            // E9, a hard link. release: the chain's data, lengths and inner
            // links are visible to a consumer that acquires this link.
            // seq_cst (free on x86): it is the store half of the store-load
            // pair with a sleeping consumer (see Queue::wake_not_empty).
            if (next_word.compare_exchange_strong(next, layout::next_link(next, first, true),
                                                  std::memory_order_seq_cst,
                                                  std::memory_order_relaxed))
                break;
        } else {
            if (!a.valid(idx_of(next)) || ++helps > help_limit(a)) return false;
            // E13: tail is lagging; help swing it one node forward.
            tail_word.compare_exchange_strong(t, bump(t, idx_of(next)), std::memory_order_release,
                                              std::memory_order_relaxed);
        }
    }
    // E17: swing tail to the end of our chain; failure means someone helped.
    tail_word.compare_exchange_strong(t, bump(t, last), std::memory_order_release,
                                      std::memory_order_relaxed);
    return true;
}

// Moves tail to the last node of the list, helping as E13 does. Afterwards
// tail has passed every node that was unlinked before the call. False on a
// damaged list.
inline bool tail_to_end(const Arena &a) {
    auto &tail_word = a.hdr->tail;
    for (uint64_t helps = 0;; ++helps) {
        uint64_t t = tail_word.load(std::memory_order_acquire);
        if (!a.valid(idx_of(t)) || helps > help_limit(a)) return false;
        uint64_t next = a.node(idx_of(t))->next.load(std::memory_order_acquire);
        if (t != tail_word.load(std::memory_order_acquire)) continue;
        if (idx_of(next) == kNil) return true;
        if (!a.valid(idx_of(next))) return false;
        tail_word.compare_exchange_strong(t, bump(t, idx_of(next)), std::memory_order_release,
                                          std::memory_order_relaxed);
    }
}

// Sets n's next to (target, tag + 1). The tag is never reset, so a stale E9
// CAS against n's previous life fails.
inline void set_next(const Arena &a, uint32_t n, uint32_t target) {
    auto &w = a.node(n)->next;
    w.store(layout::next_link(w.load(std::memory_order_relaxed), target, false),
            std::memory_order_relaxed);
}

enum class Claim { ok, empty, too_big, corrupt };

// What a successful claim hands to the caller: the old dummy (to release as
// unlinked), and the claimed message nodes in order. The last claimed node
// is the new dummy (release it once copied); earlier ones are both copied
// and unlinked by the caller.
struct Claimed {
    uint32_t old_dummy;
    uint32_t count;
    // Hard links seen: -1 if none, else the largest k such that S[k]'s link
    // was hard, where S = old_dummy, ids[0], ..., ids[count - 1]. Tail then
    // passed S[0..k-1] and every node unlinked before this claim.
    int32_t last_hard;
};

// Claims up to `max` messages with one head CAS. ids receives the nodes;
// fits(i, len) tells whether message i (length len) fits the caller's
// buffer i; the run stops before the first that does not. If the first does
// not fit, returns too_big with *first_len set and nothing claimed.
template <typename Fits>
Claim claim(const Arena &a, uint32_t max, uint32_t *ids, Fits fits, Claimed *out,
            uint32_t *first_len) {
    auto &head_word = a.hdr->head;
    for (;;) {
        uint64_t h = head_word.load(std::memory_order_acquire);  // D2
        if (!a.valid(idx_of(h))) return Claim::corrupt;
        uint64_t next = a.node(idx_of(h))->next.load(std::memory_order_acquire);  // D4
        if (h != head_word.load(std::memory_order_acquire)) continue;             // D5
        if (idx_of(next) == kNil) return Claim::empty;  // D7-D8: h is the last node
        // No node ever links to itself, not even for a moment; a damaged
        // region that does would hand out the same message for ever. (Longer
        // cycles are found by enqueues, whose tail helping is bounded, and
        // by recovery's scan.)
        if (idx_of(next) == idx_of(h)) return Claim::corrupt;
        // Walk the run to claim. While head is h, every node linked after
        // it stays allocated (none has been unlinked); if head moves under
        // us we may read recycled nodes, but then the CAS below fails.
        uint32_t cur = idx_of(next);
        uint32_t n = 0;
        int32_t last_hard = layout::is_hard(next) ? 0 : -1;
        bool stale = false;
        for (;;) {
            if (!a.valid(cur)) return Claim::corrupt;
            uint32_t len = a.node(cur)->len.load(std::memory_order_relaxed);
            if (!fits(n, len)) {
                if (n == 0) {
                    // The length is trustworthy only if head did not move.
                    if (h != head_word.load(std::memory_order_acquire)) {
                        stale = true;
                        break;
                    }
                    if (len > a.max_len) return Claim::corrupt;
                    *first_len = len;
                    return Claim::too_big;
                }
                break;
            }
            ids[n++] = cur;
            // Serial walk: fetch the line kAhead nodes on meanwhile (for
            // writing: we release the node after copying), and at the
            // start of a run the lines a chain's first node names.
            if (n < max) {
                a.prefetch_ahead(cur);
                if (n == 1) a.prefetch_lead(cur);
            }
            // Read cur's link even when the run is complete: it shares the
            // line we just read, and a hard one proves tail passed the rest
            // of S (otherwise S waits for the next dequeue as pending).
            uint64_t nn = a.node(cur)->next.load(std::memory_order_acquire);
            // cur is S[n]; once claimed it stays linked, so this is final.
            if (layout::is_hard(nn) && idx_of(nn) != kNil) last_hard = static_cast<int32_t>(n);
            if (n == max || idx_of(nn) == kNil) {
                // The next message is linked, so written for good: start
                // fetching it (its header for writing: its release writes
                // `done`; its data for reading) so that our next claim does
                // not wait for the lines.
                if (n == max && a.valid(idx_of(nn))) a.prefetch_node(idx_of(nn), false);
                break;
            }
            if (idx_of(nn) == cur) return Claim::corrupt;
            cur = idx_of(nn);
        }
        if (stale) continue;
        // D13. acq_rel: acquire the producers' writes of the claimed data;
        // release orders our reads before whoever next moves head.
        if (head_word.compare_exchange_strong(h, bump(h, ids[n - 1]), std::memory_order_acq_rel,
                                              std::memory_order_relaxed)) {
            *out = Claimed{idx_of(h), n, last_hard};
            return Claim::ok;
        }
    }
}

}  // namespace cq::ms_queue
