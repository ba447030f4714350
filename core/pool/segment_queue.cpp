#include "core/pool/segment_queue.hpp"

#include <bit>

namespace cq {

SegmentQueue::SegmentQueue(uint32_t capacity, uint32_t segment_size)
    : mask_(capacity - 1u),
      seg_mask_(segment_size - 1u),
      cap_shift_(static_cast<uint32_t>(std::countr_zero(capacity))),
      seg_shift_(static_cast<uint32_t>(std::countr_zero(segment_size))),
      seg_index_mask_(capacity / segment_size - 1u),
      slots_(new Slot[capacity]),
      released_(new Counter[capacity / segment_size]) {}

}  // namespace cq
