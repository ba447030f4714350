// Does a prefetch leave a line that another core has modified writable
// here, so that a locked instruction on it right after needs no second
// trip? core/util/prefetch.hpp issues PREFETCHW for lines the queue is about
// to write; this measures, on the machine it runs on, what one locked add
// costs on such a line after each of:
//
//   none       nothing (the line is still modified in the other core)
//   prefetchw  PREFETCHW
//   prefetch   an ordinary (read) prefetch
//   load       a plain load of the line
//   owned      a locked add (the line is certainly ours: the floor)
//
// A writer thread on the first allowed CPU writes the line; the prober on the
// second waits for it, does the step above, spins for `wait` cycles (no
// PAUSE: it may exit the virtual machine) so the step has completed, then
// times one locked add with RDTSC, fenced. The modes take turns, round after
// round, so a move of the vCPUs by the host lands on all of them.
//
//   prefetch_probe [rounds] [wait_cycles]     (defaults 20000 and 20000)
//
// Prints the median and the 10th/90th percentile per mode, in TSC cycles,
// fencing and timing included: the "owned" row is the floor to compare
// with. x86-64 only.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <x86intrin.h>

enum { kModes = 5, kLines = 64 };
static const char *const kNames[kModes] = {"none", "prefetchw", "prefetch", "load", "owned"};

static char *g_lines;       // kLines lines, 256 bytes apart
static _Atomic int g_turn;  // 0: the writer's, 1: the prober's
static long g_rounds;

static int pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static int g_cpu[2];

static void *writer(void *arg) {
    (void)arg;
    if (pin(g_cpu[0]) != 0) {
        fprintf(stderr, "prefetch_probe: cannot pin the writer to CPU %d\n", g_cpu[0]);
        exit(1);
    }
    for (long r = 0; r < g_rounds * kModes; ++r) {
        while (atomic_load_explicit(&g_turn, memory_order_acquire) != 0) {
        }
        // A different line each round, so that no prefetcher learns one.
        volatile int *p = (volatile int *)(g_lines + (r % kLines) * 256);
        *p = *p + 1;
        atomic_store_explicit(&g_turn, 1, memory_order_release);
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    g_rounds = argc > 1 ? atol(argv[1]) : 20000;
    const uint64_t wait = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000;
    if (g_rounds < 10) g_rounds = 10;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 1;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < 2; ++c)
        if (CPU_ISSET(c, &allowed)) g_cpu[n++] = c;
    if (n < 2) {
        fprintf(stderr, "prefetch_probe: needs two CPUs\n");
        return 1;
    }
    g_lines = aligned_alloc(4096, kLines * 256);
    uint64_t *t = malloc(sizeof(uint64_t) * (size_t)(g_rounds * kModes));
    if (!g_lines || !t) return 1;
    for (int i = 0; i < kLines * 256; ++i) g_lines[i] = 0;
    pthread_t w;
    if (pthread_create(&w, NULL, writer, NULL) != 0 || pin(g_cpu[1]) != 0) {
        fprintf(stderr, "prefetch_probe: cannot start the writer or pin to CPU %d\n", g_cpu[1]);
        return 1;
    }
    for (long r = 0; r < g_rounds * kModes; ++r) {
        while (atomic_load_explicit(&g_turn, memory_order_acquire) != 1) {
        }
        int *p = (int *)(g_lines + (r % kLines) * 256);
        const int mode = (int)(r % kModes);
        switch (mode) {
            case 1:
                __asm__ volatile("prefetchw %0" : : "m"(*p));
                break;
            case 2:
                __builtin_prefetch(p, 0, 3);
                break;
            case 3:
                (void)*(volatile int *)p;
                break;
            case 4:
                __asm__ volatile("lock addl $0, %0" : "+m"(*p));
                break;
        }
        const uint64_t start = __rdtsc();
        while (__rdtsc() - start < wait) {
        }
        _mm_lfence();
        const uint64_t t0 = __rdtsc();
        _mm_lfence();
        __asm__ volatile("lock addl $1, %0" : "+m"(*p));
        _mm_lfence();
        const uint64_t t1 = __rdtsc();
        t[(r % kModes) * g_rounds + r / kModes] = t1 - t0;
        atomic_store_explicit(&g_turn, 0, memory_order_release);
    }
    pthread_join(w, NULL);
    printf(
        "one locked add on a line CPU %d just wrote, timed on CPU %d after each step and\n"
        "%llu cycles; TSC cycles over %ld rounds per step\n\n",
        g_cpu[0], g_cpu[1], (unsigned long long)wait, g_rounds);
    printf("| step before | median | p10 | p90 |\n|---|---:|---:|---:|\n");
    for (int m = 0; m < kModes; ++m) {
        uint64_t *s = t + m * g_rounds;
        qsort(s, (size_t)g_rounds, sizeof *s, cmp_u64);
        printf("| %s | %llu | %llu | %llu |\n", kNames[m], (unsigned long long)s[g_rounds / 2],
               (unsigned long long)s[g_rounds / 10], (unsigned long long)s[g_rounds * 9 / 10]);
    }
    free(t);
    free(g_lines);
    return 0;
}

#else
int main(void) {
    puts("prefetch_probe: x86-64 only");
    return 0;
}
#endif
