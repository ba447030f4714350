/* One thread, K queue handles used in turn: the cost of finding this
 * thread's lane when the handle changes (core/queue/lanes.hpp, the lane
 * cache). Count instructions, which the machine's noise does not change:
 *   valgrind --tool=callgrind build-bench/bench/handle_switch K N
 * or time it: build-bench/bench/handle_switch K N   (prints ns per pair) */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getpid under -std=c11 */
#include <cqueue/cqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    const int k = argc > 1 ? atoi(argv[1]) : 2, n = argc > 2 ? atoi(argv[2]) : 1000000;
    if (k < 1 || k > 8 || n < 1) return 2;
    cq_queue_options o = CQ_QUEUE_OPTIONS_INIT;
    o.flags = CQ_CREATE | CQ_EXCL;
    o.capacity = 64;
    o.max_message_size = 64;
    cq_queue *q[8];
    char name[8][64], buf[64] = {0};
    for (int i = 0; i < k; i++) {
        snprintf(name[i], sizeof name[i], "/cq-handle-switch-%d-%d", (int)getpid(), i);
        if (cq_open(name[i], &o, &q[i]) != CQ_OK) {
            fprintf(stderr, "cq_open: %s\n", cq_last_error());
            return 1;
        }
    }
    size_t len;
    const double t0 = now();
    for (int i = 0; i < n; i++) {
        cq_queue *x = q[i % k];
        if (cq_enqueue(x, buf, 8) != CQ_OK || cq_dequeue(x, buf, sizeof buf, &len) != CQ_OK)
            return 1;
    }
    printf("%d handle(s) in turn: %.1f ns per enqueue+dequeue pair\n", k, (now() - t0) / n * 1e9);
    for (int i = 0; i < k; i++) {
        cq_close(q[i]);
        cq_unlink(name[i]);
    }
    return 0;
}
