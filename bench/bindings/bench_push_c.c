/*
 * Push delivery cost per record, C baseline: see run.sh. Usage: bench_push_c N
 * N records of 16 bytes are published first; then a push subscription (earliest
 * start, 1-worker pool) whose handler only counts, until all N were handled. Once
 * with a per-record handler, once with a batch handler, and, for scale, a plain
 * broker_poll_batch loop on this thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <cqueue/cqueue.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t want, got, calls;
} counter;

static void add(counter *c, size_t n) {
    pthread_mutex_lock(&c->mu);
    c->got += n;
    c->calls++;
    if (c->got >= c->want) pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static int on_record(void *ctx, const cq_message *m) {
    (void)m;
    add(ctx, 1);
    return 0;
}

static size_t on_batch(void *ctx, const cq_message *m, size_t n) {
    (void)m;
    add(ctx, n);
    return n;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "%s: %s (%s)\n", what, cq_strerror(rc), cq_last_error());
    return 1;
}

/* Subscribes with one of the handlers and times the delivery of n records. */
static int run(cq_broker *b, cq_pool *p, size_t n, int batch) {
    counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, n, 0, 0};
    cq_subscribe_options o = CQ_SUBSCRIBE_OPTIONS_INIT;
    o.pattern = "bench";
    o.flags = CQ_SUB_EARLIEST;
    cq_subscription *s;
    double t0 = now();
    int rc = batch ? broker_subscribe_push_batch(b, &o, p, on_batch, &c, &s)
                   : broker_subscribe_push(b, &o, p, on_record, &c, &s);
    if (rc < 0) return fail("subscribe", rc);
    pthread_mutex_lock(&c.mu);
    while (c.got < n) pthread_cond_wait(&c.cv, &c.mu);
    pthread_mutex_unlock(&c.mu);
    double t1 = now();
    broker_unsubscribe(s);
    printf("c %s: %.0f ns/record (%zu records, %zu handler calls)\n",
           batch ? "push batch" : "push per record", (t1 - t0) * 1e9 / (double)n, n, c.calls);
    return 0;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100000;
    char dir[] = "/tmp/cq-bench-push-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    cq_broker *b;
    int rc = broker_open(dir, NULL, &b);
    if (rc < 0) return fail("broker_open", rc);
    char rec[16];
    memset(rec, 'r', sizeof rec);
    for (size_t i = 0; i < n; ++i)
        if ((rc = broker_publish(b, "bench", rec, sizeof rec, NULL)) < 0)
            return fail("publish", rc);
    cq_pool_options po = CQ_POOL_OPTIONS_INIT;
    po.workers = 1;
    cq_pool *p;
    if ((rc = pool_create(&po, &p)) < 0) return fail("pool_create", rc);
    if (run(b, p, n, 0) || run(b, p, n, 1)) return 1;
    pool_shutdown(p, CQ_WAIT_FOREVER);
    pool_destroy(p);

    cq_subscription *s;
    if ((rc = broker_subscribe(b, "bench", NULL, CQ_SUB_EARLIEST, &s)) < 0)
        return fail("subscribe", rc);
    cq_message msgs[64];
    size_t got = 0, calls = 0;
    double t0 = now();
    while (got < n) {
        rc = broker_poll_batch(s, msgs, 64, CQ_WAIT_FOREVER);
        if (rc < 0) return fail("poll_batch", rc);
        got += (size_t)rc;
        calls++;
    }
    double t1 = now();
    printf("c pull poll_batch(64): %.0f ns/record (%zu records, %zu calls)\n",
           (t1 - t0) * 1e9 / (double)n, n, calls);
    broker_unsubscribe(s);
    broker_close(b);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
