// Free-node stacks: Treiber stacks of node indices whose top is a tagged
// index; the link of a free node is its free_next field. There is one global
// stack (RegionHeader::free_top) and one per lane (Lane::free_top): a
// consumer frees into its own lane's stack, which other processes touch only
// to steal it when they find no free node elsewhere, and hands a full stack
// to the global one in one CAS; a producer pops from its own lane, then the
// global stack, and steals another lane's whole stack only when those two
// have fewer nodes than it wants (Queue::take_nodes and Queue::steal,
// docs/recovery.md).
//
// Invariant: every node is in exactly one of {free list, queue (M&S list),
// held by one live operation, held by a dead process (orphan)}. The tag on
// free_top grows with every successful CAS, so a pop that read a top that has
// since been popped and pushed again fails its CAS instead of installing a
// stale successor (the ABA problem).
#pragma once

#include <atomic>
#include <cstdint>

#include "core/queue/arena.hpp"

namespace cq::free_list {

using layout::bump;
using layout::idx_of;
using layout::kNil;

enum class PopResult { ok, empty, corrupt };

// Walks from the node `head` along free_next to the want-th node (or the
// chain's end, if sooner; never more nodes than the arena has, which bounds
// a walk around a damaged, cyclic chain): *last, *n (>= 1) nodes, and
// *next, the link after *last (kNil at the end). False if an index, `head`
// included, is out of range.
inline bool walk(const Arena &a, uint32_t head, uint32_t want, uint32_t *last, uint32_t *n,
                 uint32_t *next) {
    if (!a.valid(head)) return false;
    if (want > a.count) want = a.count;
    uint32_t cur = head, k = 1;
    uint32_t nx = a.node(cur)->free_next.load(std::memory_order_relaxed);
    if (want > 1) a.prefetch_lead(head);
    while (k < want && nx != kNil) {
        if (!a.valid(nx)) return false;
        // The walk is serial, one line per node; the hint lets the line
        // kAhead nodes on arrive meanwhile (the walker is about to write it).
        a.prefetch_ahead(cur);
        cur = nx;
        ++k;
        nx = a.node(cur)->free_next.load(std::memory_order_relaxed);
    }
    if (nx != kNil && !a.valid(nx)) return false;
    *last = cur;
    *n = k;
    *next = nx;
    return true;
}

// The last node of the chain from `first`, which the caller owns (detached
// from every stack). False on an index out of range (`first` included) or
// more links than nodes (a cycle).
inline bool find_end(const Arena &a, uint32_t first, uint32_t *last) {
    if (!a.valid(first)) return false;
    uint32_t cur = first;
    for (uint32_t steps = 0;; ++steps) {
        const uint32_t nx = a.node(cur)->free_next.load(std::memory_order_relaxed);
        if (nx == kNil) break;
        if (!a.valid(nx) || steps > a.count) return false;
        cur = nx;
    }
    *last = cur;
    return true;
}

// Pops up to `want` (>= 1) nodes with one CAS: walks `want` links down from
// the top, then swings the top past them. The popped nodes stay linked
// first -> ... -> last through free_next. *got receives how many.
inline PopResult pop_chain(const Arena &a, layout::Atomic64 &top_word, uint32_t want,
                           uint32_t *first, uint32_t *last, uint32_t *got) {
    // acquire: synchronises with the releasing CAS of every push before it
    // (they form one release sequence on free_top), so free_next is current.
    uint64_t top = top_word.load(std::memory_order_acquire);
    for (;;) {
        uint32_t head = idx_of(top);
        if (head == kNil) return PopResult::empty;
        // A stale read (the stack changed under us) still yields an index
        // some thread once stored, all of which are valid; out of range
        // means the region itself is damaged.
        uint32_t cur, n, next;
        if (!walk(a, head, want, &cur, &n, &next)) return PopResult::corrupt;
        // Success means no push or pop happened since `top` was read (each
        // bumps the tag), so the links we walked were the current ones.
        if (top_word.compare_exchange_weak(top, bump(top, next), std::memory_order_acquire,
                                           std::memory_order_acquire)) {
            *first = head;
            *last = cur;
            *got = n;
            return PopResult::ok;
        }
    }
}

// Pushes the chain first -> ... -> last (linked by free_next) with one CAS.
inline void push_chain(const Arena &a, layout::Atomic64 &top_word, uint32_t first, uint32_t last) {
    uint64_t top = top_word.load(std::memory_order_relaxed);
    for (;;) {
        a.node(last)->free_next.store(idx_of(top), std::memory_order_relaxed);
        // release: the node's fields (free_next, done reset) are visible to
        // the popper that acquires this top. seq_cst (free on x86): the
        // store half of the store-load pair with a sleeping producer.
        if (top_word.compare_exchange_weak(top, bump(top, first), std::memory_order_seq_cst,
                                           std::memory_order_relaxed))
            return;
    }
}

// Detaches the whole stack (one CAS); returns its first node or kNil.
inline uint32_t take_all(layout::Atomic64 &top_word) {
    uint64_t top = top_word.load(std::memory_order_acquire);
    while (idx_of(top) != kNil &&
           !top_word.compare_exchange_weak(top, bump(top, kNil), std::memory_order_acquire,
                                           std::memory_order_acquire)) {
    }
    return idx_of(top);
}

}  // namespace cq::free_list
