/* One thread publishing N 64-byte records to one topic (fsync NONE): the
 * per-publish cost, for callgrind, which counts instructions whatever the
 * machine's noise:
 *   valgrind --tool=callgrind build-bench/bench/broker/publish_loop DIR 100000
 * or timed: build-bench/bench/broker/publish_loop DIR N   (prints ns/publish) */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getpid under -std=c11 */
#include <cqueue/cqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    const long n = atol(argv[2]);
    cq_broker *b;
    if (broker_open(argv[1], NULL, &b) != CQ_OK) {
        fprintf(stderr, "broker_open: %s\n", cq_last_error());
        return 1;
    }
    char rec[64] = {0};
    broker_publish(b, "loop", rec, sizeof rec, NULL); /* creates the topic */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++)
        if (broker_publish(b, "loop", rec, sizeof rec, NULL) != CQ_OK) return 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.1f ns per broker_publish\n",
           ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n);
    return broker_close(b) == CQ_OK ? 0 : 1;
}
