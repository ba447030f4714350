// extern "C" shims for the worker pool: check arguments, cast the handle,
// call the core, map the result. No algorithm lives here.
#include "cqueue/pool.h"

#include <climits>
#include <cstddef>
#include <cstring>
#include <memory>

#include "capi/src/shim.hpp"
#include "core/pool/cancel_token.hpp"
#include "core/pool/pool.hpp"
#include "core/queue/queue.hpp"

using cq::Errc;
using cq::to_int;
using cq::capi::guard;
using cq::capi::inval;

static_assert(sizeof(cq_job) == sizeof(cq::JobDesc) &&
              offsetof(cq_job, struct_size) == offsetof(cq::JobDesc, struct_size) &&
              offsetof(cq_job, priority) == offsetof(cq::JobDesc, priority) &&
              offsetof(cq_job, fn) == offsetof(cq::JobDesc, fn) &&
              offsetof(cq_job, arg) == offsetof(cq::JobDesc, arg) &&
              offsetof(cq_job, cleanup) == offsetof(cq::JobDesc, cleanup) &&
              offsetof(cq_job, deadline_ns) == offsetof(cq::JobDesc, deadline_ns) &&
              offsetof(cq_job, cancel) == offsetof(cq::JobDesc, cancel));
static_assert(CQ_PRIORITY_LEVELS == cq::kPriorityLevels);
static_assert(CQ_ECANCELED == static_cast<int>(Errc::canceled) &&
              CQ_ETIMEDOUT == static_cast<int>(Errc::timedout) &&
              CQ_EIO == static_cast<int>(Errc::io));

namespace {
cq::Pool *impl(cq_pool *p) {
    return reinterpret_cast<cq::Pool *>(p);
}
cq::CancelToken *impl(cq_cancel_token *t) {
    return reinterpret_cast<cq::CancelToken *>(t);
}

// The structs as of 1.0; callers built against older headers pass a smaller
// struct_size (none exist yet), newer ones a larger one.
constexpr uint32_t kOptionsV1 = offsetof(cq_pool_options, metrics_interval_ns) + sizeof(int64_t);
constexpr uint32_t kStatsV1 = offsetof(cq_pool_stats, message_failures) + sizeof(uint64_t);

cq_pool_stats to_c(const cq::PoolStats &s, uint32_t struct_size) {
    cq_pool_stats c{};
    c.struct_size = struct_size;
    c.workers = s.workers;
    c.queue_capacity = s.queue_capacity;
    c.segment_size = s.segment_size;
    c.submitted = s.submitted;
    c.completed = s.completed;
    c.cancelled = s.cancelled;
    c.expired = s.expired;
    c.failed = s.failed;
    c.queue_depth = s.queue_depth;
    c.batches = s.batches;
    c.mean_batch_size =
        s.batches ? static_cast<double>(s.batch_jobs) / static_cast<double>(s.batches) : 0.0;
    c.messages = s.messages;
    c.message_failures = s.message_failures;
    return c;
}

// A job as the core needs it, checked; i names it in the error text (-1: single).
int check_job(const char *fn, const cq_job *job, long i) {
    const char *what = nullptr;
    if (job->struct_size != sizeof(cq_job))
        what = "struct_size is not sizeof(cq_job) (use CQ_JOB_INIT)";
    else if (!job->fn)
        what = "fn is NULL";
    else if (job->priority >= CQ_PRIORITY_LEVELS)
        what = "priority is not CQ_PRIORITY_LOW .. CQ_PRIORITY_HIGH";
    else if (job->deadline_ns < 0)
        what = "deadline_ns is negative";
    if (!what) return CQ_OK;
    if (i < 0) return to_int(cq::fail(Errc::inval, "%s: job %s", fn, what));
    return to_int(cq::fail(Errc::inval, "%s: jobs[%ld] %s", fn, i, what));
}
}  // namespace

extern "C" {

CQ_API void cq_pool_options_init(cq_pool_options *opts) {
    if (!opts) return;
    *opts = cq_pool_options CQ_POOL_OPTIONS_INIT;
}

CQ_API int pool_create(const cq_pool_options *opts, cq_pool **out) {
    return guard([&] {
        if (!out) return inval("pool_create: out is NULL");
        *out = nullptr;
        cq::PoolOptions o;
        if (opts) {
            if (opts->struct_size < kOptionsV1 || opts->struct_size > sizeof(cq_pool_options))
                return to_int(cq::fail(Errc::inval,
                                       "pool_create: options struct_size %u, expected %zu (use "
                                       "cq_pool_options_init)",
                                       opts->struct_size, sizeof(cq_pool_options)));
            if (!opts->cpu_affinity != !opts->cpu_affinity_count)
                return inval("pool_create: cpu_affinity and cpu_affinity_count disagree");
            if (opts->cpu_affinity_count > CQ_POOL_MAX_WORKERS)
                return inval("pool_create: cpu_affinity_count exceeds CQ_POOL_MAX_WORKERS");
            if (opts->reserved0 != 0) return inval("pool_create: reserved0 must be 0");
            if (opts->metrics && opts->metrics_interval_ns <= 0)
                return inval("pool_create: metrics needs metrics_interval_ns > 0");
            o.workers = opts->workers;
            o.queue_capacity = opts->queue_capacity;
            o.segment_size = opts->segment_size;
            o.max_batch = opts->max_batch;
            o.fairness = opts->fairness;
            if (opts->cpu_affinity)
                o.cpu_affinity.assign(opts->cpu_affinity,
                                      opts->cpu_affinity + opts->cpu_affinity_count);
            o.on_thread_start = opts->on_thread_start;
            o.on_thread_stop = opts->on_thread_stop;
            o.hook_user = opts->hook_user;
            if (opts->metrics) {
                cq_pool_metrics_fn fn = opts->metrics;
                void *user = opts->metrics_user;
                o.metrics = [fn, user](const cq::PoolStats &s) {
                    cq_pool_stats c = to_c(s, sizeof(cq_pool_stats));
                    fn(user, &c);
                };
            }
            o.metrics_interval_ns = opts->metrics_interval_ns;
        }
        std::unique_ptr<cq::Pool> p;
        if (Errc e = cq::Pool::create(o, &p); e != Errc::ok) return to_int(e);
        *out = reinterpret_cast<cq_pool *>(p.release());
        return CQ_OK;
    });
}

CQ_API int pool_submit(cq_pool *p, cq_job_fn fn, void *arg) {
    return guard([&] {
        if (!p) return inval("pool_submit: pool is NULL");
        if (!fn) return inval("pool_submit: fn is NULL");
        cq::JobDesc d{sizeof(cq_job), CQ_PRIORITY_NORMAL, fn, arg, nullptr, 0, nullptr};
        return to_int(impl(p)->submit(d));
    });
}

CQ_API int pool_submit_ex(cq_pool *p, const cq_job *job) {
    return guard([&] {
        if (!p) return inval("pool_submit_ex: pool is NULL");
        if (!job) return inval("pool_submit_ex: job is NULL");
        if (int e = check_job("pool_submit_ex", job, -1); e != CQ_OK) return e;
        return to_int(impl(p)->submit(*reinterpret_cast<const cq::JobDesc *>(job)));
    });
}

CQ_API int pool_submit_wait(cq_pool *p, const cq_job *job, int64_t timeout_ns) {
    return guard([&] {
        if (!p) return inval("pool_submit_wait: pool is NULL");
        if (!job) return inval("pool_submit_wait: job is NULL");
        if (int e = check_job("pool_submit_wait", job, -1); e != CQ_OK) return e;
        return to_int(
            impl(p)->submit_wait(*reinterpret_cast<const cq::JobDesc *>(job), timeout_ns));
    });
}

CQ_API int pool_submit_batch(cq_pool *p, const cq_job *jobs, size_t count) {
    return guard([&] {
        if (!p) return inval("pool_submit_batch: pool is NULL");
        if (!jobs) return inval("pool_submit_batch: jobs is NULL");
        if (count == 0 || count > INT32_MAX)
            return inval("pool_submit_batch: count must be 1 .. INT32_MAX");
        for (size_t i = 0; i < count; ++i)
            if (int e = check_job("pool_submit_batch", &jobs[i], static_cast<long>(i)); e != CQ_OK)
                return e;
        return impl(p)->submit_batch(reinterpret_cast<const cq::JobDesc *>(jobs),
                                     static_cast<uint32_t>(count));
    });
}

CQ_API int pool_job_fail(void) {
    return guard([&] {
        if (!cq::Pool::fail_current_job())
            return to_int(cq::fail(Errc::perm, "pool_job_fail: no pool job runs on this thread"));
        return CQ_OK;
    });
}

CQ_API int pool_attach_queue(cq_pool *p, cq_queue *q, cq_pool_message_fn handler, void *ctx) {
    return guard([&] {
        if (!p) return inval("pool_attach_queue: pool is NULL");
        if (!q) return inval("pool_attach_queue: queue is NULL");
        if (!handler) return inval("pool_attach_queue: handler is NULL");
        return to_int(impl(p)->attach(reinterpret_cast<cq::Queue *>(q), handler, ctx));
    });
}

CQ_API int pool_stats(cq_pool *p, cq_pool_stats *out) {
    return guard([&] {
        if (!p) return inval("pool_stats: pool is NULL");
        if (!out) return inval("pool_stats: out is NULL");
        uint32_t size = out->struct_size;
        if (size < kStatsV1)
            return to_int(cq::fail(Errc::inval,
                                   "pool_stats: struct_size %u is smaller than %u; set it to "
                                   "sizeof(cq_pool_stats)",
                                   size, kStatsV1));
        cq::PoolStats s;
        impl(p)->stats(&s);
        cq_pool_stats full = to_c(s, size);
        std::memcpy(out, &full, size < sizeof full ? size : sizeof full);
        return CQ_OK;
    });
}

CQ_API int pool_shutdown(cq_pool *p, int64_t timeout_ns) {
    return guard([&] {
        if (!p) return inval("pool_shutdown: pool is NULL");
        return to_int(impl(p)->shutdown(timeout_ns));
    });
}

CQ_API void pool_destroy(cq_pool *p) {
    guard([&] {
        if (!p) return CQ_OK;
        if (impl(p)->is_own_worker())
            return to_int(cq::fail(Errc::perm, "pool_destroy: called from a worker of the pool"));
        // Shut down now; the memory goes with the last reference (a push
        // subscription still open keeps one, and finds the pool closed).
        impl(p)->shutdown(0);
        impl(p)->release();
        return CQ_OK;
    });
}

CQ_API int pool_cancel_token_create(cq_cancel_token **out) {
    return guard([&] {
        if (!out) return inval("pool_cancel_token_create: out is NULL");
        cq::CancelToken *t = cq::CancelToken::create();
        *out = reinterpret_cast<cq_cancel_token *>(t);
        if (!t) return to_int(cq::fail(Errc::nomem, "pool_cancel_token_create: out of memory"));
        return CQ_OK;
    });
}

CQ_API int pool_cancel_token_cancel(cq_cancel_token *t) {
    return guard([&] {
        if (!t) return inval("pool_cancel_token_cancel: token is NULL");
        impl(t)->cancel();
        return CQ_OK;
    });
}

CQ_API int pool_cancel_token_is_cancelled(const cq_cancel_token *t) {
    return guard([&] {
        if (!t) return inval("pool_cancel_token_is_cancelled: token is NULL");
        return reinterpret_cast<const cq::CancelToken *>(t)->cancelled() ? 1 : 0;
    });
}

CQ_API void pool_cancel_token_destroy(cq_cancel_token *t) {
    if (t) impl(t)->release();
}

}  // extern "C"
