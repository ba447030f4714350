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
//    keeps up with its producer read it on every message (1P1C: 1.2x the
//    throughput without it when the vCPUs sit close, 1.9x when far apart;
//    bench/RESULTS.md). Instead a node is freed
//    only after a tail CAS moved tail past it, so head may pass a lagging
//    tail: every node from tail onwards stays allocated, and a producer that
//    finds tail lagging helps it forward through them as in the paper. So a
//    node is reused only when three things happened (NodeHeader::done): its
//    consumer copied it, a dequeue unlinked it, a tail CAS passed it.
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
// kNil). passed(n) is called for every node tail moved past because of this
// call (the node it helped tail off, or the old tail and the chain up to
// last), after the move; it must release kTailPast. Returns false if the
// list is damaged (index out of range, or more tail-helping steps than there
// are nodes, as a planted cycle would cause).
template <typename Passed>
bool link_chain(const Arena &a, uint32_t first, uint32_t last, uint32_t count, Passed passed) {
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
            // E9. release: the chain's data, lengths and inner links are
            // visible to a consumer that acquires this link. seq_cst (free
            // on x86): it is the store half of the store-load pair with a
            // sleeping consumer (see Queue::wake_not_empty).
            if (next_word.compare_exchange_strong(next, tagged(first, tag_of(next) + 1),
                                                  std::memory_order_seq_cst,
                                                  std::memory_order_relaxed))
                break;
        } else {
            if (!a.valid(idx_of(next)) || ++helps > help_limit(a)) return false;
            // E13: tail is lagging; help swing it one node forward. Success
            // proves tail was still t, so t was not freed and `next` is its
            // link of this life.
            if (tail_word.compare_exchange_strong(
                    t, bump(t, idx_of(next)), std::memory_order_acq_rel, std::memory_order_relaxed))
                passed(idx_of(t));
        }
    }
    // E17: swing tail to the end of our chain; failure means someone helped
    // (and owns the kTailPast of what it passed). On success, tail passed t
    // and our chain up to last; none of them can be freed before passed()
    // releases it, so their links are still ours to follow (read first).
    if (tail_word.compare_exchange_strong(t, bump(t, last), std::memory_order_acq_rel,
                                          std::memory_order_relaxed)) {
        passed(idx_of(t));
        uint32_t c = first;
        for (uint32_t k = 1; k < count; ++k) {
            const uint32_t nx = idx_of(a.node(c)->next.load(std::memory_order_relaxed));
            passed(c);
            // Only a damaged region rewires a chain node under us.
            if (!a.valid(nx)) return false;
            c = nx;
        }
    }
    return true;
}

// Sets n's next to (target, tag + 1). The tag is never reset, so a stale E9
// CAS against n's previous life fails.
inline void set_next(const Arena &a, uint32_t n, uint32_t target) {
    auto &w = a.node(n)->next;
    w.store(bump(w.load(std::memory_order_relaxed), target), std::memory_order_relaxed);
}

enum class Claim { ok, empty, too_big, corrupt };

// What a successful claim hands to the caller: the old dummy (to release as
// unlinked), and the claimed message nodes in order. The last claimed node
// is the new dummy (release it once copied); earlier ones are both copied
// and unlinked by the caller.
struct Claimed {
    uint32_t old_dummy;
    uint32_t count;
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
            if (n == max) break;
            uint64_t nn = a.node(cur)->next.load(std::memory_order_acquire);
            if (idx_of(nn) == kNil) break;
            if (idx_of(nn) == cur) return Claim::corrupt;
            cur = idx_of(nn);
        }
        if (stale) continue;
        // D13. acq_rel: acquire the producers' writes of the claimed data;
        // release orders our reads before whoever next moves head.
        if (head_word.compare_exchange_strong(h, bump(h, ids[n - 1]), std::memory_order_acq_rel,
                                              std::memory_order_relaxed)) {
            *out = Claimed{idx_of(h), n};
            return Claim::ok;
        }
    }
}

}  // namespace cq::ms_queue
