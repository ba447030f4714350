/*
 * A plugin linked against libcqueue (DT_NEEDED libcqueue.so.1), meant to be
 * dlopen()ed by a host that knows nothing of libcqueue. It uses a queue and a
 * worker pool, and shuts the pool down before returning, so the host may
 * dlclose it at once.
 */
#include <cqueue/cqueue.h>
#include <stdio.h>
#include <string.h>

static void job(void *arg) {
    cq_queue *q = (cq_queue *)arg;
    char m[32];
    int len = snprintf(m, sizeof m, "from a pool worker");
    cq_enqueue_wait(q, m, (size_t)len, CQ_WAIT_FOREVER);
}

__attribute__((visibility("default"))) int plugin_run(const char *name, int jobs) {
    cq_queue_options o;
    cq_queue_options_init(&o);
    o.flags = CQ_CREATE;
    o.capacity = 64;
    cq_queue *q = NULL;
    int rc = cq_open(name, &o, &q);
    if (rc < 0) return rc;
    cq_pool_options po;
    cq_pool_options_init(&po);
    po.workers = 2;
    cq_pool *p = NULL;
    if ((rc = pool_create(&po, &p)) < 0) goto out;
    for (int i = 0; i < jobs; ++i)
        if ((rc = pool_submit(p, job, q)) < 0) break;
    int rc2 = pool_shutdown(p, CQ_WAIT_FOREVER);
    pool_destroy(p);
    if (rc >= 0) rc = rc2;
    if (rc < 0) goto out;
    int got = 0;
    char buf[256];
    size_t len;
    while (cq_dequeue(q, buf, sizeof buf, &len) == CQ_OK) {
        if (len != strlen("from a pool worker")) {
            rc = CQ_ECORRUPT;
            goto out;
        }
        ++got;
    }
    rc = got;
out:
    cq_close(q);
    cq_unlink(name);
    return rc;
}
