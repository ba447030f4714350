// The record the multi-process tests send: who sent it and its sequence.
#pragma once

#include <cstdint>

namespace cqtest {

struct Msg {
    uint32_t slot;  // producer slot
    uint32_t inc;   // incarnation of that slot (restarted after a kill)
    uint64_t seq;   // 0, 1, 2, ... per (slot, inc)
};
static_assert(sizeof(Msg) == 16);

}  // namespace cqtest
