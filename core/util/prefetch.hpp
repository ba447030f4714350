// Prefetching a cache line that the caller will write: PREFETCHW fetches it
// exclusive, so the write that follows needs no second trip to take it from
// the reader copies (the line usually sits modified in another core's cache:
// the queue's node lines bounce between producer and consumer).
#pragma once

namespace cq {

// Whether the CPU has PREFETCHW (CPUID 0x80000001 ECX bit 8; every x86-64
// AMD, Intel since Broadwell). Without it the prefetch is an ordinary one.
bool cpu_has_prefetchw() noexcept;

inline void prefetch_for_write(const void *p, bool prefetchw) noexcept {
#if defined(__x86_64__)
    if (prefetchw) {
        asm volatile("prefetchw %0" : : "m"(*static_cast<const char *>(p)));
        return;
    }
#else
    (void)prefetchw;
#endif
    __builtin_prefetch(p, 1, 3);
}

}  // namespace cq
