#include "layout.hpp"

namespace cq::layout {

bool compute_geometry(uint32_t capacity, uint32_t max_message_size, uint32_t lane_count,
                      Geometry *out) noexcept {
    const uint64_t stride = (sizeof(NodeHeader) + uint64_t{max_message_size} + 63) & ~uint64_t{63};
    const uint64_t nodes = uint64_t{capacity} + 1;
    const uint64_t lanes_off = sizeof(RegionHeader);
    const uint64_t nodes_off = lanes_off + uint64_t{lane_count} * sizeof(Lane);
    unsigned __int128 total = static_cast<unsigned __int128>(stride) * nodes + nodes_off;
    if (total > static_cast<unsigned __int128>(INT64_MAX)) return false;
    *out = Geometry{stride, lanes_off, nodes_off, static_cast<uint64_t>(total)};
    return true;
}

}  // namespace cq::layout
