#define _POSIX_C_SOURCE 200809L
/* Cross-language test participant in C: see run_xlang.py for the protocol. */
#include <cqueue/cqueue.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static cq_queue *q;
static const char *tag;
static int n;
static volatile int produced_all;

static void *produce(void *arg) {
    (void)arg;
    char msg[64];
    for (int i = 0; i < n; ++i) {
        int len = snprintf(msg, sizeof msg, "%s:%d", tag, i);
        int rc = cq_enqueue_wait(q, msg, (size_t)len, 10000000000LL);
        if (rc < 0) {
            fprintf(stderr, "c: enqueue %d: %s %s\n", i, cq_strerror(rc), cq_last_error());
            exit(1);
        }
    }
    __atomic_store_n(&produced_all, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s QUEUE TAG N OUTFILE SYNCDIR\n", argv[0]);
        return 2;
    }
    tag = argv[2];
    n = atoi(argv[3]);
    cq_queue_options o;
    cq_queue_options_init(&o);
    o.flags = CQ_CREATE;
    o.capacity = 64;
    o.max_message_size = 64;
    int rc = cq_open(argv[1], &o, &q);
    if (rc < 0) {
        fprintf(stderr, "c: open: %s %s\n", cq_strerror(rc), cq_last_error());
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.ready", argv[5], tag);
    fclose(fopen(path, "w"));
    snprintf(path, sizeof path, "%s/go", argv[5]);
    while (!exists(path)) nanosleep(&(struct timespec){0, 1000000}, NULL);

    FILE *out = fopen(argv[4], "w");
    pthread_t t;
    pthread_create(&t, NULL, produce, NULL);
    char buf[64];
    double idle = 0;
    for (;;) {
        size_t len = 0;
        rc = cq_dequeue_wait(q, buf, sizeof buf, &len, 100000000LL);
        if (rc == CQ_OK) {
            fprintf(out, "%.*s\n", (int)len, buf);
            idle = 0;
        } else if (rc == CQ_ETIMEDOUT) {
            if (__atomic_load_n(&produced_all, __ATOMIC_ACQUIRE) && (idle += 0.1) >= 1.5) break;
        } else {
            fprintf(stderr, "c: dequeue: %s %s\n", cq_strerror(rc), cq_last_error());
            return 1;
        }
    }
    pthread_join(t, NULL);
    fclose(out);
    cq_close(q);
    return 0;
}
