/*
 * A downstream program built against an installed libcqueue: it sees only the
 * installed headers and library. Creates a small queue under a unique name,
 * round-trips one message, unlinks the name and prints "ok".
 */
#define _POSIX_C_SOURCE 200809L

#include <cqueue/cqueue.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what, int rc) {
    fprintf(stderr, "consumer: %s failed: %s (%d): %s\n", what, cq_strerror(rc), rc,
            cq_last_error());
    return 1;
}

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "cq_install_consumer_%ld_%ld", (long)getpid(), (long)time(NULL));

    cq_queue_options opts = CQ_QUEUE_OPTIONS_INIT;
    opts.flags = CQ_CREATE | CQ_EXCL;
    opts.capacity = 8;
    opts.max_message_size = 64;

    cq_queue *q = NULL;
    int rc = cq_open(name, &opts, &q);
    if (rc != CQ_OK) return fail("cq_open", rc);

    static const char msg[] = "hello from an installed libcqueue";
    char buf[64];
    size_t len = 0;
    int status = 0;
    if ((rc = cq_enqueue(q, msg, sizeof msg)) != CQ_OK) {
        status = fail("cq_enqueue", rc);
    } else if ((rc = cq_dequeue(q, buf, sizeof buf, &len)) != CQ_OK) {
        status = fail("cq_dequeue", rc);
    } else if (len != sizeof msg || memcmp(buf, msg, len) != 0) {
        fprintf(stderr, "consumer: dequeued %zu bytes that differ from the %zu enqueued\n", len,
                sizeof msg);
        status = 1;
    }
    if ((rc = cq_close(q)) != CQ_OK && status == 0) status = fail("cq_close", rc);
    if ((rc = cq_unlink(name)) != CQ_OK && status == 0) status = fail("cq_unlink", rc);
    if (status == 0) puts("ok");
    return status;
}
