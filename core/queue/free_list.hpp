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
        if (!a.valid(head)) return PopResult::corrupt;
        uint32_t cur = head, n = 1;
        uint32_t next = a.node(cur)->free_next.load(std::memory_order_relaxed);
        while (n < want && next != kNil) {
            // A stale read (the stack changed under us) still yields an index
            // some thread once stored, all of which are valid; out of range
            // means the region itself is damaged.
            if (!a.valid(next)) return PopResult::corrupt;
            // The walk is serial, one line per node; the hint lets the line
            // kAhead nodes on arrive meanwhile (we are about to write it).
            a.prefetch_ahead(cur);
            cur = next;
            ++n;
            next = a.node(cur)->free_next.load(std::memory_order_relaxed);
        }
        if (next != kNil && !a.valid(next)) return PopResult::corrupt;
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
