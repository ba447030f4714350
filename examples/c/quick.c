/* C quick example (README): a queue and a pool job. */
#include <cqueue/cqueue.h>
#include <stdio.h>
#include <unistd.h>

static void job(void *arg) {
    printf("job ran %s\n", (const char *)arg);
}

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "example-c-%d", (int)getpid());
    cq_queue_options opts = CQ_QUEUE_OPTIONS_INIT;
    opts.flags = CQ_CREATE;
    opts.capacity = 1024;
    cq_queue *q;
    int rc = cq_open(name, &opts, &q);
    if (rc < 0) {
        fprintf(stderr, "cq_open: %s (%s)\n", cq_strerror(rc), cq_last_error());
        return 1;
    }
    cq_enqueue(q, "hello from C", 12);
    char buf[256];
    size_t len;
    if (cq_dequeue_wait(q, buf, sizeof buf, &len, 1000000000) == CQ_OK)
        printf("%.*s\n", (int)len, buf);
    cq_close(q);
    cq_unlink(name);

    cq_pool *pool;
    if (pool_create(NULL, &pool) < 0) return 1;
    pool_submit(pool, job, "in C");
    pool_shutdown(pool, CQ_WAIT_FOREVER);
    pool_destroy(pool);
    return 0;
}
