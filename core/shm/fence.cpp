#include "fence.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cq {

#ifdef CQUEUE_FENCE_FREE
// Every access on both sides of the handshake is seq_cst (see Queue::enter
// and Queue::reap), which orders the store-load pair without fences.
bool membarrier_light_ok() noexcept {
    return false;
}
void heavy_fence() noexcept {}
#else
namespace {
long membarrier(int cmd) noexcept {
    return syscall(__NR_membarrier, cmd, 0u, 0);
}

bool register_once() noexcept {
    long mask = membarrier(MEMBARRIER_CMD_QUERY);
    if (mask < 0 || !(mask & MEMBARRIER_CMD_GLOBAL_EXPEDITED)) return false;
    return membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
}
}  // namespace

bool membarrier_light_ok() noexcept {
    static const bool ok = register_once();  // a process property, set once
    return ok;
}

void heavy_fence() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // Serialises every CPU running a registered process: their earlier
    // stores are visible after this returns. Unregistered processes fence
    // for themselves. Fall back to the slower grace-period command if the
    // expedited one is unavailable.
    if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0) membarrier(MEMBARRIER_CMD_GLOBAL);
}
#endif

}  // namespace cq
