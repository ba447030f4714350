/* The README's broker example: publish three records, read them back with a
 * durable subscription, acknowledge, and resume after the ack on reopening.
 * Usage: broker_quickstart DIR  (prints the records; exits non-zero on error) */
#include <cqueue/cqueue.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, int r) {
    fprintf(stderr, "%s: %s (%s)\n", what, cq_strerror(r), cq_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    cq_broker *b;
    int r = broker_open(argv[1], NULL, &b); /* NULL: default options (fsync NONE) */
    if (r) return fail("broker_open", r);

    cq_subscription *s;
    r = broker_subscribe(b, "orders.>", "billing", CQ_SUB_DURABLE | CQ_SUB_EARLIEST, &s);
    if (r) return fail("broker_subscribe", r);

    const char *msgs[] = {"eu:1", "us:2", "eu:3"};
    for (int i = 0; i < 3; i++) {
        const char *topic = msgs[i][0] == 'e' ? "orders.eu" : "orders.us";
        uint64_t offset;
        if ((r = broker_publish(b, topic, msgs[i], strlen(msgs[i]), &offset)))
            return fail("publish", r);
    }

    cq_message m;
    while ((r = broker_poll(s, &m, 100000000 /* 100 ms */)) == CQ_OK) {
        printf("%s #%llu %.*s\n", m.topic, (unsigned long long)m.offset, (int)m.len,
               (const char *)m.data);
        if ((r = broker_ack(s, m.topic, m.offset))) return fail("broker_ack", r);
    }
    if (r != CQ_ETIMEDOUT) return fail("broker_poll", r);

    broker_unsubscribe(s);
    return broker_close(b) ? 1 : 0;
}
