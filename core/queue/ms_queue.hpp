// Michael & Scott's non-blocking queue (PODC '96, figure 1) over the node
// arena, with counted ("tagged") links so that no pointer lives in shared
// memory. Labels E5..E17 and D2..D13 refer to the paper's pseudocode.
//
// Two departures from the paper, both for shared memory:
//  - Claim, then copy. The paper copies the value out of head->next before
//    the head CAS (D11) and frees the old dummy at once. Messages here are up
//    to megabytes, and copying a node that another consumer may recycle is a
//    data race; instead the CAS claims the message, the consumer copies it
//    afterwards, and the node is freed only when both its consumer has
//    released it and the next dequeue has unlinked it (NodeHeader::refs).
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

// Appends the chain first..last, whose next links are already set (last's to
// kNil). Returns false if the list is damaged (index out of range, or more
// tail-helping steps than there are nodes, as a planted cycle would cause).
inline bool link_chain(const Arena &a, uint32_t first, uint32_t last, uint32_t count) {
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
            // Number the chain after the node we link to. If that node is
            // stale the CAS below fails and we number again; positions of
            // linked nodes never change (claim() relies on it).
            uint64_t pos = a.node(idx_of(t))->pos.load(std::memory_order_relaxed);
            for (uint32_t c = first, k = 0; k < count; ++k) {
                // Our chain is private, but in a damaged region one of its
                // nodes may also sit on a list someone else rewires.
                if (!a.valid(c)) return false;
                a.node(c)->pos.store(++pos, std::memory_order_relaxed);
                c = idx_of(a.node(c)->next.load(std::memory_order_relaxed));
            }
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

// Sets n's next to (target, tag + 1). The tag is never reset, so a stale E9
// CAS against n's previous life fails.
inline void set_next(const Arena &a, uint32_t n, uint32_t target) {
    auto &w = a.node(n)->next;
    w.store(bump(w.load(std::memory_order_relaxed), target), std::memory_order_relaxed);
}

// Releases one of the two references of a node (see NodeHeader::refs).
// Returns true if this was the second: the node is free and the caller must
// put it on a free stack.
inline bool release(const Arena &a, uint32_t n) {
    auto &refs = a.node(n)->refs;
    // Only two parties ever release a node, so seeing 1 means the other one
    // is done and nobody else will write refs: skip the locked RMW (the
    // common case when the unlinking dequeue comes well after the copy).
    // acquire/acq_rel: the other party's accesses to the node (its copy of
    // the data, or its read of next) happen-before the free and any reuse.
    if (refs.load(std::memory_order_acquire) == 1 ||
        refs.fetch_add(1, std::memory_order_acq_rel) == 1) {
        refs.store(0, std::memory_order_relaxed);
        return true;
    }
    return false;
}

enum class Claim { ok, empty, too_big, corrupt };

// What a successful claim hands to the caller: the old dummy (to release as
// unlinked), and the claimed message nodes in order. The last claimed node
// is the new dummy (release it once copied); earlier ones are wholly ours.
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
            uint32_t *first_len, layout::Atomic64 &tail_seen) {
    auto &head_word = a.hdr->head;
    auto &tail_word = a.hdr->tail;
    uint64_t helps = 0;
    for (;;) {
        uint64_t h = head_word.load(std::memory_order_acquire);  // D2
        if (!a.valid(idx_of(h))) return Claim::corrupt;
        uint64_t next = a.node(idx_of(h))->next.load(std::memory_order_acquire);  // D4
        if (h != head_word.load(std::memory_order_acquire)) continue;             // D5
        if (idx_of(next) == kNil) return Claim::empty;  // D7-D8: h is the last node
        if (!a.valid(idx_of(next))) return Claim::corrupt;
        // Head must never pass tail (tail would then name a node that can be
        // freed). The paper reads tail on every dequeue (D3, D6); instead we
        // keep `bound`, a list position tail is known to have reached, and
        // read tail (a line every producer writes) only when h is not below
        // it. Tail only moves forward, so a bound stays true for ever.
        uint64_t bound = tail_seen.load(std::memory_order_relaxed);
        uint32_t tail_idx = kNil;
        const uint64_t hpos = a.node(idx_of(h))->pos.load(std::memory_order_relaxed);
        if (hpos >= bound) {
            uint64_t t = tail_word.load(std::memory_order_acquire);  // D3
            // D5 again: the paper reads tail before its head check, so that
            // (head, next, tail) is one snapshot taken while h was head. We
            // read tail later and must re-check: otherwise h may have been
            // dequeued, freed and re-linked in between, and a tail naming
            // its index would make D10 swing tail to a stale `next`.
            if (h != head_word.load(std::memory_order_acquire)) continue;
            if (!a.valid(idx_of(t))) return Claim::corrupt;
            if (idx_of(h) == idx_of(t)) {  // D6
                // More helping steps than nodes: the list loops back on itself.
                if (++helps > help_limit(a)) return Claim::corrupt;
                // D10: tail is lagging behind a linked node; help it.
                tail_word.compare_exchange_strong(
                    t, bump(t, idx_of(next)), std::memory_order_release, std::memory_order_relaxed);
                continue;
            }
            // Tail was read after head, and tail is never behind head: while
            // head is still h, tail is past it. Its position is trustworthy
            // if tail did not move while we read it.
            tail_idx = idx_of(t);
            uint64_t tpos = a.node(tail_idx)->pos.load(std::memory_order_relaxed);
            if (t == tail_word.load(std::memory_order_acquire) && tpos > hpos) {
                bound = tpos;
                tail_seen.store(tpos, std::memory_order_relaxed);
            } else {
                bound = hpos + 1;
            }
        }
        // Walk the run to claim: nodes up to position `bound` (or up to the
        // tail node just read) are linked, and not free while head is h.
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
            if (n == max || cur == tail_idx ||
                a.node(cur)->pos.load(std::memory_order_relaxed) >= bound)
                break;
            uint64_t nn = a.node(cur)->next.load(std::memory_order_acquire);
            if (idx_of(nn) == kNil) break;
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
