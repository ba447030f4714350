/*
 * libcqueue — the worker pool (pool_*).
 *
 * A bounded set of worker threads of one process runs small jobs handed to it
 * by any number of threads. Jobs wait in a lock-free segmented FIFO (one per
 * priority level) whose memory is allocated once, at pool_create: submitting
 * and running a job never allocates. Workers take contiguous runs of ready
 * jobs as one batch, spin briefly when idle, then sleep on a futex, so an idle
 * pool uses no CPU. Workers may also drain a shared-memory queue
 * (pool_attach_queue), so pools of several processes share its messages.
 *
 * Job ownership: a job that pool_submit* accepted (CQ_OK) belongs to the pool
 * until its cleanup has run; its cleanup (if any) runs exactly once, after
 * the job, or instead of it when it is cancelled, expired or dropped at
 * shutdown. A job that was not accepted (any error code) stays the caller's:
 * nothing of it runs.
 *
 * Accounting: after pool_shutdown returns, submitted == completed + cancelled
 * + expired + failed (pool_stats), whatever the timeout.
 *
 * Thread safety: every function may be called by any thread at once, except
 * pool_destroy, which must be the last call on a pool (no call on that pool
 * may be in progress or follow). Jobs, cleanups and hooks run on the pool's
 * worker threads; a job may submit further jobs to its own pool, but must not
 * call pool_shutdown or pool_destroy on it (CQ_EPERM), nor may a hook or the
 * metrics callback (CQ_EPERM).
 */
#ifndef CQUEUE_POOL_H
#define CQUEUE_POOL_H

#include "common.h"
#include "queue.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cq_pool cq_pool;
typedef struct cq_cancel_token cq_cancel_token;
typedef struct cq_pool_stats cq_pool_stats;

/**
 * A job: called once on a worker thread with the arg given at submit. It must
 * return (a C++ exception counts as a failure); it must not end the worker
 * thread (pthread_exit, or a pthread_cancel reaching a cancellation point):
 * that worker and the jobs it had taken with this one are lost, unaccounted.
 */
typedef void (*cq_job_fn)(void *arg);

/**
 * Runs exactly once for every accepted job that has one, on a worker thread
 * (or on the thread calling pool_shutdown / pool_destroy for jobs cancelled
 * at shutdown). status says what happened to the job: CQ_OK (it ran),
 * CQ_ECANCELED (its cancel token was cancelled before it started, or the pool
 * cancelled it at the shutdown deadline), CQ_ETIMEDOUT (its deadline had
 * passed when a worker took it) or CQ_EIO (it failed: it threw a C++
 * exception or called pool_job_fail).
 */
typedef void (*cq_job_cleanup_fn)(void *arg, int status);

/** Called on each worker thread as it starts and just before it ends. */
typedef void (*cq_pool_thread_hook)(void *user, uint32_t worker_index);

/**
 * Called periodically from the pool's own metrics thread (never from a
 * worker or a submitting thread) with a snapshot of the counters.
 */
typedef void (*cq_pool_metrics_fn)(void *user, const cq_pool_stats *stats);

/**
 * Called by a worker for each message taken from an attached shared-memory
 * queue. data is valid only during the call.
 */
typedef void (*cq_pool_message_fn)(void *ctx, const void *data, size_t len);

/* Priority levels: higher is drained first; see pool_submit_ex. */
#define CQ_PRIORITY_LOW 0u
#define CQ_PRIORITY_NORMAL 1u
#define CQ_PRIORITY_HIGH 2u
#define CQ_PRIORITY_LEVELS 3u

#define CQ_POOL_DEFAULT_QUEUE_CAPACITY 16384u
#define CQ_POOL_DEFAULT_SEGMENT_SIZE 256u
#define CQ_POOL_DEFAULT_MAX_BATCH 64u
#define CQ_POOL_DEFAULT_FAIRNESS 16u
/** Largest queue_capacity (2^24 jobs per priority level). */
#define CQ_POOL_MAX_QUEUE_CAPACITY (1u << 24)
/** Most workers a pool may have. */
#define CQ_POOL_MAX_WORKERS 1024u
/** Most messages a worker takes from an attached queue per batch. */
#define CQ_POOL_MAX_BATCH 1024u

/** Options for pool_create. Initialise with cq_pool_options_init or CQ_POOL_OPTIONS_INIT. */
typedef struct cq_pool_options {
    uint32_t struct_size;    /**< sizeof(cq_pool_options); set by _init */
    uint32_t workers;        /**< 0 = number of online CPUs; at most CQ_POOL_MAX_WORKERS */
    uint32_t queue_capacity; /**< jobs per priority level, 1 .. CQ_POOL_MAX_QUEUE_CAPACITY,
                                  rounded up to a power of two (pool_stats reports it);
                                  pool_submit fails with CQ_EFULL past it */
    /* Fields added in 1.0 beyond the fixed contract. */
    uint32_t segment_size;        /**< jobs per segment of the queue, 1 .. 2^24, rounded up to a
                                       power of two, at most the queue capacity; a worker's batch
                                       never crosses a segment, and room is reclaimed a whole
                                       segment at a time */
    uint32_t max_batch;           /**< most jobs a worker takes at once, 1 .. CQ_POOL_MAX_BATCH */
    uint32_t fairness;            /**< every fairness-th batch a worker serves the levels in
                                       rotation instead of highest first (no-starvation bound);
                                       1 .. 65536 */
    const uint32_t *cpu_affinity; /**< NULL, or CPU numbers: worker i is pinned to
                                       cpu_affinity[i % cpu_affinity_count]; copied */
    uint32_t cpu_affinity_count;  /**< entries in cpu_affinity (0 with NULL) */
    uint32_t reserved0;           /**< must be 0 */
    cq_pool_thread_hook on_thread_start; /**< NULL or called first on each worker */
    cq_pool_thread_hook on_thread_stop;  /**< NULL or called last on each worker */
    void *hook_user;                     /**< passed to both hooks */
    cq_pool_metrics_fn metrics;          /**< NULL = no metrics thread */
    void *metrics_user;                  /**< passed to metrics */
    int64_t metrics_interval_ns;         /**< > 0 with metrics: period of the calls */
} cq_pool_options;

#define CQ_POOL_OPTIONS_INIT                                                                   \
    {                                                                                          \
        (uint32_t)sizeof(cq_pool_options), 0u, CQ_POOL_DEFAULT_QUEUE_CAPACITY,                 \
            CQ_POOL_DEFAULT_SEGMENT_SIZE, CQ_POOL_DEFAULT_MAX_BATCH, CQ_POOL_DEFAULT_FAIRNESS, \
            NULL, 0u, 0u, NULL, NULL, NULL, NULL, NULL, 0                                      \
    }

/** One job for pool_submit_ex / pool_submit_batch. Initialise with CQ_JOB_INIT. */
typedef struct cq_job {
    uint32_t struct_size;      /**< sizeof(cq_job) */
    uint32_t priority;         /**< CQ_PRIORITY_LOW .. CQ_PRIORITY_HIGH */
    cq_job_fn fn;              /**< required */
    void *arg;                 /**< passed to fn and cleanup */
    cq_job_cleanup_fn cleanup; /**< NULL or runs exactly once (see cq_job_cleanup_fn) */
    int64_t deadline_ns;       /**< absolute CLOCK_MONOTONIC time; 0 = none. A job whose
                                    deadline has passed when a worker takes it expires */
    cq_cancel_token *cancel;   /**< NULL or a token; the pool holds a reference until
                                    the job's cleanup has run */
} cq_job;

#define CQ_JOB_INIT \
    { (uint32_t)sizeof(cq_job), CQ_PRIORITY_NORMAL, NULL, NULL, NULL, 0, NULL }

/** Counters of a pool. Set struct_size before calling pool_stats. */
struct cq_pool_stats {
    uint32_t struct_size;
    uint32_t workers;
    uint32_t queue_capacity;   /**< per priority level, after rounding */
    uint32_t segment_size;     /**< after rounding */
    uint64_t submitted;        /**< jobs accepted since creation */
    uint64_t completed;        /**< ran and returned */
    uint64_t cancelled;        /**< token cancelled, or cancelled at the shutdown deadline */
    uint64_t expired;          /**< deadline passed before they started */
    uint64_t failed;           /**< threw, or called pool_job_fail */
    uint64_t queue_depth;      /**< jobs accepted and not yet taken by a worker */
    uint64_t batches;          /**< batches of jobs taken by workers */
    double mean_batch_size;    /**< jobs per batch (0 if none) */
    uint64_t messages;         /**< messages handled from the attached queue */
    uint64_t message_failures; /**< of those, handler threw */
};

#define CQ_POOL_STATS_INIT \
    { (uint32_t)sizeof(cq_pool_stats), 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0.0, 0u, 0u }

/** Fill *opts with the defaults (see CQ_POOL_OPTIONS_INIT). NULL is ignored. */
CQ_API void cq_pool_options_init(cq_pool_options *opts);

/**
 * Create a pool and start its workers. opts may be NULL: the defaults.
 * Allocates all queue memory now. Returns CQ_OK and *out, or CQ_EINVAL (NULL
 * out, bad struct_size or field, with the field named in cq_last_error()),
 * CQ_ENOMEM, CQ_EIO (a thread could not be started, or affinity refused).
 * Thread-safe.
 */
CQ_API int pool_create(const cq_pool_options *opts, cq_pool **out);

/**
 * Submit fn(arg) at CQ_PRIORITY_NORMAL, no cleanup, deadline or token. Never
 * blocks, never allocates. Returns CQ_OK, CQ_EFULL (queue_capacity jobs are
 * waiting), CQ_ECLOSED (pool_shutdown has begun), CQ_EINVAL (NULL p or fn).
 * Thread-safe.
 */
CQ_API int pool_submit(cq_pool *p, cq_job_fn fn, void *arg);

/**
 * Submit one job described by *job (copied; job may be reused at once).
 * Never blocks. Returns CQ_OK, CQ_EFULL, CQ_ECLOSED, or CQ_EINVAL (NULL
 * pointers or fn, struct_size, priority out of range). A job whose token is
 * already cancelled or whose deadline has passed is still accepted: its
 * cleanup reports that. Thread-safe.
 */
CQ_API int pool_submit_ex(cq_pool *p, const cq_job *job);

/**
 * pool_submit_ex, waiting up to timeout_ns while the job's priority level is
 * full (spin, then sleep until a worker frees a segment). Returns CQ_OK,
 * CQ_ETIMEDOUT (still full), CQ_ECLOSED (shutdown began before or during the
 * wait), CQ_EINVAL. Thread-safe.
 */
CQ_API int pool_submit_wait(cq_pool *p, const cq_job *job, int64_t timeout_ns);

/**
 * Submit up to count jobs with one reservation per priority run: the longest
 * prefix of jobs[] for which there is room is accepted, in order. Never
 * blocks. Returns the number accepted (> 0; jobs after it were not accepted
 * and stay the caller's), or CQ_EFULL (none), CQ_ECLOSED, CQ_EINVAL (count 0
 * or > INT32_MAX, a bad job: nothing accepted). Thread-safe.
 */
CQ_API int pool_submit_batch(cq_pool *p, const cq_job *jobs, size_t count);

/**
 * Mark the job running on the calling worker thread as failed: its cleanup
 * gets CQ_EIO and it counts as failed, not completed. Returns CQ_OK, or
 * CQ_EPERM when the caller is not running a pool job.
 */
CQ_API int pool_job_fail(void);

/**
 * Workers also drain the shared-memory queue q (dequeue_batch, up to
 * max_batch messages at a time) and call handler(ctx, data, len) for each
 * message, between jobs; idle workers wait on the queue too. One queue per
 * pool. q must stay open until pool_shutdown has returned; messages not taken
 * when shutdown begins stay in the queue for other consumers. Returns CQ_OK,
 * CQ_EINVAL (NULL argument, a queue already attached), CQ_ECLOSED, CQ_ENOMEM.
 * Thread-safe.
 */
CQ_API int pool_attach_queue(cq_pool *p, cq_queue *q, cq_pool_message_fn handler, void *ctx);

/**
 * Counters; out->struct_size must be set by the caller (CQ_EINVAL
 * otherwise). Exact once pool_shutdown has returned; a consistent-enough
 * snapshot while running. Thread-safe.
 */
CQ_API int pool_stats(cq_pool *p, cq_pool_stats *out);

/**
 * Stop accepting (pool_submit* return CQ_ECLOSED from now on), let the
 * workers run every queued job, and join them. If that takes longer than
 * timeout_ns, jobs still queued at the deadline are cancelled (their cleanups
 * run with CQ_ECANCELED) and CQ_ETIMEDOUT is returned once the workers have
 * finished the jobs they were running (a running job is never interrupted).
 * Returns CQ_OK, CQ_ETIMEDOUT, CQ_EINVAL (NULL p), CQ_EPERM (called from a
 * worker of p, or from its metrics callback). A second call returns CQ_OK at
 * once. Thread-safe.
 */
CQ_API int pool_shutdown(cq_pool *p, int64_t timeout_ns);

/**
 * Free the pool. Without a prior pool_shutdown it first does
 * pool_shutdown(p, 0): stops accepting, cancels every queued job (cleanups run
 * with CQ_ECANCELED), waits for running jobs and joins. NULL is fine. Must be
 * the last call on p; must not be called from one of p's workers or its
 * metrics callback (ignored, the pool leaks). A push subscription
 * (broker_subscribe_push) still using p stops delivering, and the pool's
 * memory is freed when it is unsubscribed.
 */
CQ_API void pool_destroy(cq_pool *p);

/** Create a cancel token (not cancelled). Returns CQ_OK, CQ_EINVAL, CQ_ENOMEM. */
CQ_API int pool_cancel_token_create(cq_cancel_token **out);

/**
 * Cancel: jobs holding t that have not started yet are not run (cleanup gets
 * CQ_ECANCELED). Running jobs are not interrupted. Idempotent. Returns CQ_OK
 * or CQ_EINVAL. Thread-safe.
 */
CQ_API int pool_cancel_token_cancel(cq_cancel_token *t);

/** 1 if t was cancelled, 0 if not, CQ_EINVAL for NULL. Thread-safe. */
CQ_API int pool_cancel_token_is_cancelled(const cq_cancel_token *t);

/**
 * Drop the caller's reference. Jobs still holding t keep it alive until
 * their cleanups have run, so this is safe at any time. NULL is fine.
 */
CQ_API void pool_cancel_token_destroy(cq_cancel_token *t);

#ifdef __cplusplus
}
#endif

#endif /* CQUEUE_POOL_H */
