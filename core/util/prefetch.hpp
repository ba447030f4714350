// Prefetching a cache line that the caller will write. PREFETCHW asks for
// the line exclusive, so that the write after it needs no second trip to
// take it from other cores (the queue's node lines bounce between producer
// and consumer). On the machine this was tuned on (AMD Zen 1 under KVM) an
// ordinary prefetch does as well: after either, a locked add on a line the
// other vCPU had just modified cost what it costs on a line this core owns,
// 80 TSC cycles with the timing overhead, against 300 without a prefetch
// (bench/prefetch_probe, 2026-11-24 09:43 UTC, far vCPU placement: a line
// round trip of ~950 TSC cycles). So where a profile shows a locked
// operation stalling right after one of these prefetches, the prefetch came
// too late, not too weak.
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
