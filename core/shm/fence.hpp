// Asymmetric store-load fence between an operation's fast path and the
// recovery reaper.
//
// The fast path publishes "I am inside an operation" and then reads the gate;
// the reaper closes the gate and then reads every lane. Both sides need a
// store-load barrier. With membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) the
// reaper issues it for everybody (an IPI to every CPU running a registered
// process) and the fast path needs only a compiler barrier. A process that
// could not register uses a real seq_cst fence on its fast path, so mixed
// processes stay correct. Build with CQUEUE_FENCE_FREE (ThreadSanitizer
// builds) to use seq_cst accesses instead of standalone fences.
#pragma once

#include <atomic>

namespace cq {

// Registers this process for expedited global membarrier once; returns
// whether the light fast-path fence may be used.
bool membarrier_light_ok() noexcept;

// Fast-path side: call between the lane store and the gate load.
inline void light_fence(bool light_ok) noexcept {
    if (light_ok)
        std::atomic_signal_fence(std::memory_order_seq_cst);
    else
        std::atomic_thread_fence(std::memory_order_seq_cst);
}

// Reaper side: after closing the gate, before reading the lanes.
void heavy_fence() noexcept;

}  // namespace cq
