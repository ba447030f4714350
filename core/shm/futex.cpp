#include "futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace cq {

bool futex_wait(const uint32_t *word, uint32_t expected, uint64_t deadline_ns) noexcept {
    timespec ts{};
    timespec *tsp = nullptr;
    if (deadline_ns != UINT64_MAX) {
        ts.tv_sec = static_cast<time_t>(deadline_ns / 1000000000u);
        ts.tv_nsec = static_cast<long>(deadline_ns % 1000000000u);
        tsp = &ts;
    }
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
    // retried wait never stretches the caller's timeout.
    long r =
        syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, tsp, nullptr, FUTEX_BITSET_MATCH_ANY);
    return !(r == -1 && errno == ETIMEDOUT);
}

void futex_wake(const uint32_t *word, int n) noexcept {
    syscall(SYS_futex, word, FUTEX_WAKE, n, nullptr, nullptr, 0);
}

}  // namespace cq
