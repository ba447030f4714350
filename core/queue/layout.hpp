// The shared-memory layout of a queue region, version 2 (docs/queue-region.md).
//
//   [RegionHeader, 4096 bytes][Lane x lane_count, 128 bytes each][Node x node_count]
//
// No pointers: links are 32-bit node indices; kNil ends a list. Words that
// are CASed carry a 32-bit ABA tag beside the index in one 64-bit atomic and
// the tag is incremented on every successful CAS and never reset, so a stale
// (index, tag) pair cannot match unless the tag wrapped 2^32 times while a
// thread was between its load and its CAS.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cq::layout {

using Atomic32 = std::atomic<uint32_t>;
using Atomic64 = std::atomic<uint64_t>;
static_assert(Atomic32::is_always_lock_free && Atomic64::is_always_lock_free);
static_assert(sizeof(Atomic32) == 4 && sizeof(Atomic64) == 8);

inline constexpr uint64_t kMagic = 0x3130455545555143ull;  // "CQUEUE01" little-endian
inline constexpr uint32_t kLayoutVersion = 3;
inline constexpr uint32_t kNil = 0xFFFFFFFFu;
inline constexpr uint32_t kReady = 0x59444552u;  // "REDY": set last by the creator
inline constexpr uint32_t kDefaultLanes = 512;
inline constexpr uint64_t kInitLockByte = 0;  // OFD lock held by the creator
inline constexpr uint64_t kLaneLockBase = 1;  // lane i is locked at byte 1 + i

// ---- tagged index -------------------------------------------------------
constexpr uint64_t tagged(uint32_t idx, uint32_t tag) {
    return (static_cast<uint64_t>(tag) << 32) | idx;
}
constexpr uint32_t idx_of(uint64_t t) {
    return static_cast<uint32_t>(t);
}
constexpr uint32_t tag_of(uint64_t t) {
    return static_cast<uint32_t>(t >> 32);
}
// The successor of t pointing at idx: tag + 1 (wraps after 2^32 CASes).
constexpr uint64_t bump(uint64_t t, uint32_t idx) {
    return tagged(idx, tag_of(t) + 1);
}

// Node links (NodeHeader::next) spend the tag's top bit on how the link was
// made: "hard" by a producer's linking CAS (E9), which proves tail had
// reached the node linked onto and so had passed every node before it;
// soft by set_next (a chain's inner links, and the reset to kNil). Their
// count is the other 31 bits (wraps after 2^31 changes).
inline constexpr uint32_t kHardLink = 1u << 31;
constexpr uint64_t next_link(uint64_t old, uint32_t idx, bool hard) {
    return tagged(idx, ((tag_of(old) + 1) & ~kHardLink) | (hard ? kHardLink : 0));
}
constexpr bool is_hard(uint64_t link) {
    return tag_of(link) & kHardLink;
}

// A lane's pending run (Lane::pending): `count` nodes from `first` along
// their next links, unlinked by this lane's consumer before it knew that
// tail had passed them; packed as a tagged index with the count for the
// tag. 0 = none.
constexpr uint64_t pending_run(uint32_t first, uint32_t count) {
    return tagged(first, count);
}
constexpr uint32_t run_first(uint64_t r) {
    return idx_of(r);
}
constexpr uint32_t run_count(uint64_t r) {
    return tag_of(r);
}

// ---- recovery gate ----------------------------------------------------------
// bit 0: closed; bits 1..23: generation; bits 24..63: deadline, monotonic ms.
constexpr bool gate_closed(uint64_t g) {
    return g & 1u;
}
constexpr uint64_t gate_gen(uint64_t g) {
    return (g >> 1) & 0x7FFFFFu;
}
constexpr uint64_t gate_deadline_ms(uint64_t g) {
    return g >> 24;
}
constexpr uint64_t gate_open(uint64_t gen) {
    return (gen & 0x7FFFFFu) << 1;
}
constexpr uint64_t gate_close(uint64_t gen, uint64_t deadline_ms) {
    return (deadline_ms << 24) | ((gen & 0x7FFFFFu) << 1) | 1u;
}

// ---- header -------------------------------------------------------------------
struct alignas(4096) RegionHeader {
    // Immutable after creation; covered by `checksum`.
    uint64_t magic;
    uint32_t layout_version;
    uint32_t header_size;       // sizeof(RegionHeader)
    uint32_t lane_size;         // sizeof(Lane)
    uint32_t node_header_size;  // sizeof(NodeHeader)
    uint32_t capacity;
    uint32_t max_message_size;
    uint32_t node_count;  // capacity + 1 (M&S keeps one dummy node)
    uint32_t lane_count;
    uint64_t node_stride;  // bytes per node, multiple of 64
    uint64_t lanes_offset;
    uint64_t nodes_offset;
    uint64_t total_size;
    int64_t created_ns;  // CLOCK_REALTIME
    uint32_t reserved0[7];
    uint32_t checksum;  // crc32c of every byte before this field

    // Mutable. Each contended word has its own cache line.
    alignas(64) Atomic32 init_state;  // 0 while creating, kReady when usable
    Atomic32 creator_pid;
    Atomic32 corrupt;               // sticky: nonzero once any process found corruption
    Atomic32 lanes_used;            // high-water mark of lane indices ever claimed
    Atomic64 reclaimed;             // nodes returned by recovery, total
    Atomic64 recoveries;            // successful reaps, total
    alignas(64) Atomic64 head;      // M&S Head (tagged)
    alignas(64) Atomic64 tail;      // M&S Tail (tagged)
    alignas(64) Atomic64 free_top;  // Treiber stack top (tagged)
    alignas(64) Atomic64 gate;      // recovery gate (see gate_*)
    Atomic32 gate_holder;           // lane index of the last reaper to close it
    alignas(64) Atomic32 not_empty_seq;
    Atomic32 not_empty_waiters;
    alignas(64) Atomic32 not_full_seq;
    Atomic32 not_full_waiters;
};

inline constexpr size_t kChecksummedBytes = offsetof(RegionHeader, checksum);

// ---- lane: one per (handle, thread) using the queue -----------------------------
// Owned by whoever holds the OFD lock at byte kLaneLockBase + index.
struct alignas(64) Lane {
    Atomic64 owner;     // (pid << 32) | nonce of the holder; 0 = unused or released
    Atomic32 active;    // 1 while the holder is inside an operation
    Atomic32 waiting;   // bit 0: counted in not_empty_waiters, bit 1: in not_full_waiters
    Atomic64 enqueued;  // cumulative over all holders, written by the holder only
    Atomic64 dequeued;
    uint64_t reserved4;  // version 2: free_top
    uint32_t reserved5;  // version 2: free_count
    uint32_t reserved0;
    uint64_t reserved1;  // version 1: tail_seen
    uint64_t reserved;
    // The second line holds what other processes read and take: producers
    // that find no free node read every lane's stack and pending run and
    // take them, and must not take the first line, which the holder writes
    // twice in every operation (`active`).
    //
    // Nodes this lane's consumer unlinked and is done with, waiting for
    // proof that tail passed them (pending_run; see ms_queue.hpp). Taken
    // with an exchange by the holder, by a producer that finds the queue
    // full, or by recovery.
    alignas(64) Atomic64 pending;
    // The node right after the pending run (written before it is published):
    // tells the holder, without walking the run, whether its next claim
    // continues it.
    Atomic32 pending_next;
    Atomic32 free_count;  // pushes since the last hand-over (holder's estimate)
    // This lane's free-node stack (tagged): the holder pushes what it frees,
    // producers that find nothing elsewhere take it whole (Queue::steal).
    Atomic64 free_top;
    uint64_t reserved2[5];
};

// ---- node ------------------------------------------------------------------------
// A node that was linked may be reused once three parties are done with it,
// each of which sets its bit in `done` as its last access to the node; the
// one that completes the set frees it (ms_queue::release):
inline constexpr uint32_t kCopied = 1;    // its consumer copied the message out
inline constexpr uint32_t kUnlinked = 2;  // a dequeue moved head past it
inline constexpr uint32_t kTailPast = 4;  // tail is known to have moved past it
inline constexpr uint32_t kDoneAll = kCopied | kUnlinked | kTailPast;
inline constexpr uint32_t kAhead = 8;  // NodeHeader::ahead's distance

struct NodeHeader {
    Atomic64 next;       // M&S next (tagged)
    Atomic32 free_next;  // Treiber link (index only: the top carries the tag)
    Atomic32 len;        // message length in bytes
    Atomic32 done;       // kCopied | kUnlinked | kTailPast, 0 while free
    // A hint, never trusted: the node kAhead places further along the chain
    // this node was put on (a producer's chain of messages, a consumer's
    // chain of freed nodes), or kNil. Walks prefetch it, so that a walk of
    // a chain waits for the first kAhead nodes' lines only and the rest
    // arrive while it works (the nodes of a chain are scattered over the
    // arena). Stale or wrong, it costs one wasted prefetch.
    Atomic32 ahead;
    // Two more hints, on a chain's first node: the chain's nodes 3 and 6
    // places on (kNil each if the chain is shorter), each XORed with the
    // `ahead` the chain gave the node. A walk that starts at a chain's head
    // prefetches them with the node 8 on, so it waits for 6 lines before
    // its hints run ahead of it, not 8. Nodes that headed a chain once and
    // then sat inside another keep their old `lead`, but the new chain
    // changed their `ahead`, so the pair decodes to indices that are almost
    // never in range (clearing `lead` on every node instead cost half the
    // gain: bench/RESULTS.md, session 7).
    Atomic32 lead[2];
};

static_assert(sizeof(RegionHeader) == 4096);
static_assert(offsetof(RegionHeader, checksum) == 108);
static_assert(offsetof(RegionHeader, init_state) == 128);
static_assert(offsetof(RegionHeader, head) % 64 == 0 && offsetof(RegionHeader, tail) % 64 == 0);
static_assert(offsetof(RegionHeader, free_top) % 64 == 0);
static_assert(offsetof(RegionHeader, gate) % 64 == 0);
static_assert(sizeof(Lane) == 128 && alignof(Lane) == 64);
static_assert(sizeof(NodeHeader) == 32);
static_assert(offsetof(NodeHeader, next) % 8 == 0 && offsetof(NodeHeader, len) % 4 == 0);

// Geometry derived from the creation parameters.
struct Geometry {
    uint64_t node_stride;
    uint64_t lanes_offset;
    uint64_t nodes_offset;
    uint64_t total_size;
};

// False if the sizes overflow 64 bits.
bool compute_geometry(uint32_t capacity, uint32_t max_message_size, uint32_t lane_count,
                      Geometry *out) noexcept;

}  // namespace cq::layout
