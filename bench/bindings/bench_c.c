/* Pool job crossing cost, C baseline: see run.sh. Usage: bench_c N */
#define _POSIX_C_SOURCE 200809L
#include <cqueue/cqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile int gate;
static void wait_gate(void *arg) {
    (void)arg;
    while (!__atomic_load_n(&gate, __ATOMIC_ACQUIRE)) {
    }
}
static void noop(void *arg) {
    (void)arg;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    cq_pool_options o;
    cq_pool_options_init(&o);
    o.workers = 1;
    o.queue_capacity = 16384;
    cq_pool *p;
    if (pool_create(&o, &p) < 0) return 1;
    pool_submit(p, wait_gate, NULL);
    for (int i = 0; i < n; ++i)
        if (pool_submit(p, noop, NULL) < 0) return 1;
    double t0 = now();
    __atomic_store_n(&gate, 1, __ATOMIC_RELEASE);
    pool_shutdown(p, CQ_WAIT_FOREVER);
    double t1 = now();
    pool_destroy(p);
    printf("c      %6d jobs  %8.0f ns/job\n", n, (t1 - t0) * 1e9 / n);
    return 0;
}
