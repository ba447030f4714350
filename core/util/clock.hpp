// Clocks in nanoseconds. CLOCK_MONOTONIC is system-wide, so deadlines stored
// in shared memory mean the same thing in every process.
#pragma once

#include <time.h>

#include <cstdint>

namespace cq {

inline uint64_t monotonic_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

inline int64_t realtime_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Deadline for a C-API timeout: 0 = now, negative = never (UINT64_MAX).
inline uint64_t deadline_after(int64_t timeout_ns) noexcept {
    if (timeout_ns < 0) return UINT64_MAX;
    uint64_t now = monotonic_ns();
    uint64_t t = static_cast<uint64_t>(timeout_ns);
    return t > UINT64_MAX - now ? UINT64_MAX : now + t;
}

inline void sleep_ns(uint64_t ns) noexcept {
    timespec ts{static_cast<time_t>(ns / 1000000000u), static_cast<long>(ns % 1000000000u)};
    nanosleep(&ts, nullptr);
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

}  // namespace cq
