// Processes for the harness: fork children pinned to CPUs, release them at
// once, wait for them with a deadline; plus the clock, a polling backoff and
// shared anonymous memory for their results.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <new>
#include <string>
#include <vector>

namespace cqb {

inline uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

inline void cpu_relax() {
    __builtin_ia32_pause();
}

// Polling a non-blocking channel: pause a little, then give the CPU away
// (in 2P2C a producer and a consumer share each CPU).
class Backoff {
  public:
    // Exponential pause rounds before sched_yield (--backoff-rounds).
    static int rounds;
    // Pauses taken in this process, all Backoff objects together (each
    // producer and consumer is its own process): how often the channel was
    // found full or empty, i.e. whether the run streamed or ping-ponged.
    static uint64_t stalls;
    void reset() { fails_ = 0; }
    void pause();

  private:
    int fails_ = 0;
};

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus();

// A T in MAP_SHARED anonymous memory, visible to children forked later.
// Never freed (a few per run of the harness).
template <class T>
T *map_shared() {
    void *p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return new (p) T();
}
template <class T>
void unmap_shared(T *p) {
    p->~T();
    munmap(p, sizeof(T));
}

struct Child {
    int cpu;  // pinned here before body runs
    // Runs in the child: set up, then call go() (which returns when every
    // child is ready), then work. The return value is the exit status.
    std::function<int(const std::function<void()> &go)> body;
};

// CPU time that others took on our CPUs while the children worked: busy
// time of those CPUs in /proc/stat (steal included) minus the children's own
// CPU time, as a share of the CPUs' wall time. A shared machine makes this
// non-zero; runs above a few percent are disturbed.
struct Interference {
    double wall_s = 0;
    double others_share = 0;  // 0..1
};

// Forks one process per child, pins it, releases all of them together once
// each has called go(), and waits up to timeout_s for all to exit. Children
// still running then are killed (SIGKILL, by pid). True if every child
// exited with status 0; otherwise *err says which did not. *load (may be
// null) receives the interference seen from the release to the last exit.
bool run_children(const std::vector<Child> &children, double timeout_s, std::string *err,
                  Interference *load = nullptr);

}  // namespace cqb
