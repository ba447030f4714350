/* Cross-language broker test participant in C: see run_xlang_broker.py for the protocol. */
#define _POSIX_C_SOURCE 200809L
#include <cqueue/cqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const TOPIC = "xlang.broker";

static int fail(const char *what, int rc) {
    fprintf(stderr, "c: %s: %s (%s)\n", what, cq_strerror(rc), cq_last_error());
    return 1;
}

static int publish_all(cq_broker *b, const char *tag, int run, long n) {
    char buf[128];
    for (long i = 0; i < n; ++i) {
        int len = snprintf(buf, sizeof buf, "%s:%d:%ld", tag, run, i);
        int rc = broker_publish(b, TOPIC, buf, (size_t)len, NULL);
        if (rc < 0) return fail("publish", rc);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: xlang_broker_c MODE DIR TAG N TOTAL OUTFILE SYNCDIR\n");
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2], *tag = argv[3], *outfile = argv[6];
    const char *sync = argv[7];
    long n = atol(argv[4]), total = atol(argv[5]);
    int run1 = strcmp(mode, "run1") == 0;
    cq_broker *b = NULL;
    int rc = broker_open(dir, NULL, &b);
    if (rc < 0) return fail("open", rc);
    if (strcmp(mode, "publish") == 0) {
        int bad = publish_all(b, tag, 2, n);
        rc = broker_close(b);
        return bad ? bad : rc < 0 ? fail("close", rc) : 0;
    }
    char id[160], path[4096];
    snprintf(id, sizeof id, "xl-%s", tag);
    cq_subscription *s = NULL;
    rc = broker_subscribe(b, TOPIC, id, CQ_SUB_DURABLE | (run1 ? CQ_SUB_EARLIEST : 0u), &s);
    if (rc < 0) return fail("subscribe", rc);
    if (run1) {
        snprintf(path, sizeof path, "%s/%s.ready", sync, tag);
        FILE *f = fopen(path, "w");
        if (f) fclose(f);
        snprintf(path, sizeof path, "%s/go", sync);
        struct timespec ms = {0, 1000000};
        while (access(path, F_OK) != 0) nanosleep(&ms, NULL);
        if (publish_all(b, tag, 1, n)) return 1;
    }
    FILE *out = fopen(outfile, "w");
    if (!out) return fail("fopen", CQ_EIO);
    cq_message m;
    for (long got = 0; got < total; ++got) {
        rc = broker_poll(s, &m, 30000000000LL);
        if (rc < 0) {
            fprintf(stderr, "c: after %ld of %ld records: ", got, total);
            return fail("poll", rc);
        }
        fprintf(out, "%llu %.*s\n", (unsigned long long)m.offset, (int)m.len, (const char *)m.data);
        rc = broker_ack(s, m.topic, m.offset);
        if (rc < 0) return fail("ack", rc);
    }
    while ((rc = broker_poll(s, &m, 300000000LL)) == CQ_OK)
        fprintf(out, "%llu %.*s\n", (unsigned long long)m.offset, (int)m.len, (const char *)m.data);
    if (rc != CQ_ETIMEDOUT) return fail("poll", rc);
    if (fclose(out) != 0) return fail("fclose", CQ_EIO);
    rc = broker_unsubscribe(s);
    if (rc < 0) return fail("unsubscribe", rc);
    rc = broker_close(b);
    return rc < 0 ? fail("close", rc) : 0;
}
