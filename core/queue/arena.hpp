// A process-local view of the node arena of a mapped region: index -> node.
// Every index that came from shared memory goes through valid() first.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/queue/layout.hpp"
#include "core/util/prefetch.hpp"

namespace cq {

struct Arena {
    layout::RegionHeader *hdr;
    char *nodes;
    uint64_t stride;
    uint32_t count;    // node_count
    uint32_t max_len;  // max_message_size

    bool valid(uint32_t i) const { return i < count; }
    layout::NodeHeader *node(uint32_t i) const {
        return reinterpret_cast<layout::NodeHeader *>(nodes + stride * i);
    }
    char *data(uint32_t i) const { return nodes + stride * i + sizeof(layout::NodeHeader); }
    bool prefetchw = cpu_has_prefetchw();

    // Starts fetching node i: its header line for writing, and the lines
    // of its data area for writing too, or for reading when
    // `data_for_write` is false. The first 512 bytes of the node at most:
    // the message length is not known yet, and the lines of a bigger
    // message arrive in order anyway (the hardware prefetcher follows a
    // copy). 256-byte messages, one producer and one consumer process, far
    // vCPU placement: 2.3-2.5 M msgs/s with the header line alone, 3.0 M
    // with this (bench_xproc --only cqueue alternating the two builds,
    // 2026-11-24 07:20 UTC; bench/RESULTS.md).
    void prefetch_node(uint32_t i, bool data_for_write) const {
        const char *p = nodes + stride * i;
        prefetch_for_write(p, prefetchw);
        if (stride > 64) prefetch_data(p, data_for_write);
    }
    // Out of line: small messages (one line per node) never call it, and
    // their fast path keeps its code as it was.
    __attribute__((noinline)) void prefetch_data(const char *p, bool for_write) const {
        const uint64_t end = stride < 512 ? stride : 512;
        for (uint64_t off = 64; off < end; off += 64) {
            if (for_write)
                prefetch_for_write(p + off, prefetchw);
            else
                __builtin_prefetch(p + off, 0, 3);
        }
    }

    // Starts fetching, for writing, the node that i's hint names (see
    // NodeHeader::ahead); i must be valid, the hint is checked here.
    void prefetch_ahead(uint32_t i) const {
        const uint32_t h = node(i)->ahead.load(std::memory_order_relaxed);
        if (valid(h)) prefetch_for_write(node(h), prefetchw);
    }
    // The same for the hints a chain's first node carries (NodeHeader::lead).
    void prefetch_lead(uint32_t i) const {
        const uint32_t key = node(i)->ahead.load(std::memory_order_relaxed);
        for (const auto &l : node(i)->lead)
            if (const uint32_t h = l.load(std::memory_order_relaxed) ^ key; valid(h))
                prefetch_for_write(node(h), prefetchw);
    }
};

// Sets the `ahead` hints of a chain that is being built node by node in
// chain order: each node's hint names the node added kAhead places later,
// and finish() clears the last kAhead nodes' hints (whatever they held came
// from the list they were on before, and names nodes now elsewhere).
class AheadLinker {
  public:
    void add(const Arena &a, uint32_t n) {
        uint32_t &slot = recent_[count_ % layout::kAhead];
        if (count_ >= layout::kAhead) a.node(slot)->ahead.store(n, std::memory_order_relaxed);
        if (count_ == 0) first_ = n;
        if (count_ == 3) lead_[0] = n;
        if (count_ == 6) lead_[1] = n;
        slot = n;
        ++count_;
    }
    void finish(const Arena &a) {
        if (count_ == 0) return;
        for (uint32_t k = count_ > layout::kAhead ? count_ - layout::kAhead : 0; k < count_; ++k)
            a.node(recent_[k % layout::kAhead])
                ->ahead.store(layout::kNil, std::memory_order_relaxed);
        // Keyed with the first node's `ahead` as this chain left it (the
        // node kAhead on, or kNil from the loop above), as prefetch_lead
        // decodes it.
        const uint32_t key = a.node(first_)->ahead.load(std::memory_order_relaxed);
        auto &lead = a.node(first_)->lead;
        lead[0].store((count_ > 3 ? lead_[0] : layout::kNil) ^ key, std::memory_order_relaxed);
        lead[1].store((count_ > 6 ? lead_[1] : layout::kNil) ^ key, std::memory_order_relaxed);
        count_ = 0;
    }

  private:
    uint32_t recent_[layout::kAhead];
    uint32_t count_ = 0;
    uint32_t first_ = layout::kNil, lead_[2] = {layout::kNil, layout::kNil};
};

}  // namespace cq
