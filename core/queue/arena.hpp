// A process-local view of the node arena of a mapped region: index -> node.
// Every index that came from shared memory goes through valid() first.
#pragma once

#include <cstdint>

#include "core/queue/layout.hpp"

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
};

}  // namespace cq
