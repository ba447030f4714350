/*
 * Body of the init-macro test, compiled once as C11 (init_macros.c) and once as
 * C++20 (init_macros.cpp). CQ_QUEUE_OPTIONS_INIT must give what
 * cq_queue_options_init gives, CQ_QUEUE_STATS_INIT a zeroed struct that knows its
 * size, and the library must accept both. Built with -Wextra -Werror, so a field
 * appended to a struct but not to its macro fails the build
 * (-Wmissing-field-initializers).
 */
#ifndef CQ_TEST_ABI_INIT_MACROS_H
#define CQ_TEST_ABI_INIT_MACROS_H

#include <cqueue/cqueue.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int cq_failures = 0;

#define CQ_CHECK(cond)                                                                  \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: CQ_CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            ++cq_failures;                                                              \
        }                                                                               \
    } while (0)

/* Static storage: the macros must be constant initialisers. */
static const cq_queue_options cq_file_scope_options = CQ_QUEUE_OPTIONS_INIT;
static const cq_queue_stats cq_file_scope_stats = CQ_QUEUE_STATS_INIT;

static void cq_check_options(const cq_queue_options *m) {
    cq_queue_options f;
    memset(&f, 0xA5, sizeof f);
    cq_queue_options_init(&f);
    CQ_CHECK(m->struct_size == sizeof(cq_queue_options));
    CQ_CHECK(m->struct_size == f.struct_size);
    CQ_CHECK(m->flags == f.flags);
    CQ_CHECK(m->capacity == f.capacity);
    CQ_CHECK(m->max_message_size == f.max_message_size);
    CQ_CHECK(m->mode == f.mode);
    CQ_CHECK(m->flags == 0u);
    CQ_CHECK(m->capacity == CQ_DEFAULT_CAPACITY);
    CQ_CHECK(m->max_message_size == CQ_DEFAULT_MAX_MESSAGE_SIZE);
    CQ_CHECK(m->mode == 0600u);
}

static const cq_pool_options cq_file_scope_pool_options = CQ_POOL_OPTIONS_INIT;
static const cq_job cq_file_scope_job = CQ_JOB_INIT;
static const cq_pool_stats cq_file_scope_pool_stats = CQ_POOL_STATS_INIT;
static const cq_broker_stats cq_file_scope_broker_stats = CQ_BROKER_STATS_INIT;
static const cq_subscription_stats cq_file_scope_sub_stats = CQ_SUBSCRIPTION_STATS_INIT;

/* The broker's stats macros: zeroed, sized, and accepted by the library. */
static void cq_check_broker_stats_macros(void) {
    const cq_broker_stats *b = &cq_file_scope_broker_stats;
    CQ_CHECK(b->struct_size == sizeof(cq_broker_stats));
    CQ_CHECK(b->topics == 0u && b->published == 0u && b->sync_failed == 0u && b->reserved == 0u);
    const cq_subscription_stats *s = &cq_file_scope_sub_stats;
    CQ_CHECK(s->struct_size == sizeof(cq_subscription_stats));
    CQ_CHECK(s->durable == 0u && s->delivered == 0u && s->lag_bytes == 0u);
}

/* CQ_POOL_OPTIONS_INIT gives what cq_pool_options_init gives, field by field. */
static void cq_check_pool_macros(void) {
    cq_pool_options f;
    memset(&f, 0xA5, sizeof f);
    cq_pool_options_init(&f);
    const cq_pool_options *m = &cq_file_scope_pool_options;
    CQ_CHECK(m->struct_size == sizeof(cq_pool_options) && m->struct_size == f.struct_size);
    CQ_CHECK(m->workers == f.workers && m->queue_capacity == f.queue_capacity);
    CQ_CHECK(m->segment_size == f.segment_size && m->max_batch == f.max_batch);
    CQ_CHECK(m->fairness == f.fairness && m->cpu_affinity == f.cpu_affinity);
    CQ_CHECK(m->cpu_affinity_count == f.cpu_affinity_count && m->reserved0 == f.reserved0);
    CQ_CHECK(m->on_thread_start == f.on_thread_start && m->on_thread_stop == f.on_thread_stop);
    CQ_CHECK(m->hook_user == f.hook_user && m->metrics == f.metrics);
    CQ_CHECK(m->metrics_user == f.metrics_user);
    CQ_CHECK(m->metrics_interval_ns == f.metrics_interval_ns);
    CQ_CHECK(cq_file_scope_job.struct_size == sizeof(cq_job));
    CQ_CHECK(cq_file_scope_job.priority == CQ_PRIORITY_NORMAL && cq_file_scope_job.fn == NULL);
    CQ_CHECK(cq_file_scope_pool_stats.struct_size == sizeof(cq_pool_stats));
    CQ_CHECK(cq_file_scope_pool_stats.submitted == 0u && cq_file_scope_pool_stats.failed == 0u);
}

static void cq_check_zero_stats(const cq_queue_stats *s) {
    CQ_CHECK(s->struct_size == sizeof(cq_queue_stats));
    CQ_CHECK(s->capacity == 0u && s->max_message_size == 0u);
    CQ_CHECK(s->length == 0u && s->free_nodes == 0u);
    CQ_CHECK(s->enqueued == 0u && s->dequeued == 0u && s->reclaimed == 0u);
    CQ_CHECK(s->recoveries == 0u && s->lanes_live == 0u && s->lanes_dead == 0u);
}

static int cq_run_init_macro_tests(const char *lang, const char *tag) {
    CQ_CHECK(strcmp(cq_version(), CQ_VERSION_STRING) == 0);
    cq_queue_options_init(NULL); /* ignored, must not crash */

    cq_check_options(&cq_file_scope_options);
    cq_check_zero_stats(&cq_file_scope_stats);
    cq_check_pool_macros();
    cq_check_broker_stats_macros();

    cq_queue_options opts = CQ_QUEUE_OPTIONS_INIT;
    cq_check_options(&opts);
    cq_queue_stats stats = CQ_QUEUE_STATS_INIT;
    cq_check_zero_stats(&stats);

    /* The library accepts what the macros make. */
    char name[64];
    snprintf(name, sizeof name, "cq_abi_init_macros_%s_%ld", tag, (long)getpid());
    opts.flags = CQ_CREATE | CQ_EXCL;
    opts.capacity = 4;
    opts.max_message_size = 32;
    cq_queue *q = NULL;
    int rc = cq_open(name, &opts, &q);
    CQ_CHECK(rc == CQ_OK);
    if (rc == CQ_OK) {
        CQ_CHECK(cq_enqueue(q, "x", 1) == CQ_OK);
        CQ_CHECK(cq_stats(q, &stats) == CQ_OK);
        CQ_CHECK(stats.struct_size == sizeof(cq_queue_stats));
        CQ_CHECK(stats.capacity == 4u);
        CQ_CHECK(stats.max_message_size == 32u);
        CQ_CHECK(stats.length == 1u);
        CQ_CHECK(stats.enqueued == 1u);
        CQ_CHECK(cq_close(q) == CQ_OK);
        CQ_CHECK(cq_unlink(name) == CQ_OK);
    } else {
        fprintf(stderr, "cq_open(%s): %s: %s\n", name, cq_strerror(rc), cq_last_error());
    }

    if (cq_failures != 0) {
        fprintf(stderr, "%s: %d check(s) failed\n", lang, cq_failures);
        return 1;
    }
    printf("ok: CQ_QUEUE_OPTIONS_INIT and CQ_QUEUE_STATS_INIT work in %s\n", lang);
    return 0;
}

#endif /* CQ_TEST_ABI_INIT_MACROS_H */
