// Prefetching a cache line that the caller will write. PREFETCHW asks for
// the line exclusive, so that the write after it should need no second trip
// to take it from other cores (the queue's node lines bounce between
// producer and consumer). What is measured is the gain of prefetching at
// all (bench/RESULTS.md, sessions 5 and 6); whether this CPU (Zen 1 under
// KVM) grants the line writable is not: a profile of a full queue showed
// the consumer's locked op right after a PREFETCHW'd line still waiting.
#pragma once

namespace cq {

// Whether the CPU has PREFETCHW (CPUID 0x80000001 ECX bit 8; every x86-64
// AMD, Intel since Broadwell). Without it the prefetch is an ordinary one.
// Asked once per process (CPUID leaves a virtual machine).
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
