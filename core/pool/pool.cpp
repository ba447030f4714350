// Pool lifetime and the submitting side: create, submit (single, blocking,
// batch), attach, stats, shutdown. The workers' side is in worker.cpp.
#include "core/pool/pool.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/pool/attachment.hpp"
#include "core/pool/cancel_token.hpp"
#include "core/util/clock.hpp"

namespace cq {

namespace {
constexpr int kSubmitSpins = 64;  // retries of a full queue before a blocking submit sleeps
constexpr size_t kAttachBytesPerWorker = 64 * 1024;  // receive buffers per worker, about

uint32_t round_up_pow2(uint32_t v) {
    return std::bit_ceil(v);
}
}  // namespace

Pool::Pool(const PoolOptions &opts, uint32_t capacity, uint32_t segment_size, uint32_t workers)
    : opts_(opts), nworkers_(workers), states_(new WorkerState[workers]) {
    for (auto &level : levels_) level = std::make_unique<SegmentQueue>(capacity, segment_size);
    for (uint32_t i = 0; i < workers; ++i) {
        states_[i].index = i;
        states_[i].batch.reset(new Job[opts_.max_batch]);
    }
    threads_.reserve(workers);
}

Errc Pool::create(const PoolOptions &o, std::unique_ptr<Pool> *out) {
    uint32_t workers = o.workers;
    if (workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? static_cast<uint32_t>(n) : 1u;
        if (workers > 1024) workers = 1024;
    }
    if (workers > 1024) return fail(Errc::inval, "pool: workers %u exceeds 1024", o.workers);
    if (o.queue_capacity == 0 || o.queue_capacity > (1u << 24))
        return fail(Errc::inval, "pool: queue_capacity %u is not in 1 .. 2^24", o.queue_capacity);
    const uint32_t capacity = round_up_pow2(o.queue_capacity);
    if (o.segment_size == 0 || o.segment_size > (1u << 24))
        return fail(Errc::inval, "pool: segment_size %u is not in 1 .. 2^24", o.segment_size);
    // A segment never exceeds the ring (the default 256 with a small capacity).
    const uint32_t segment = std::min(round_up_pow2(o.segment_size), capacity);
    if (o.max_batch == 0 || o.max_batch > 1024)
        return fail(Errc::inval, "pool: max_batch %u is not in 1 .. 1024", o.max_batch);
    if (o.fairness == 0 || o.fairness > 65536)
        return fail(Errc::inval, "pool: fairness %u is not in 1 .. 65536", o.fairness);
    for (size_t i = 0; i < o.cpu_affinity.size(); ++i)
        if (o.cpu_affinity[i] >= CPU_SETSIZE)
            return fail(Errc::inval, "pool: cpu_affinity[%zu] = %u is not a CPU number", i,
                        o.cpu_affinity[i]);
    if (o.metrics && o.metrics_interval_ns <= 0)
        return fail(Errc::inval, "pool: metrics needs metrics_interval_ns > 0");

    std::unique_ptr<Pool> p(new Pool(o, capacity, segment, workers));
    if (Errc e = p->start(); e != Errc::ok) return e;
    *out = std::move(p);
    return Errc::ok;
}

Errc Pool::start() {
    for (uint32_t i = 0; i < nworkers_; ++i) {
        // relaxed: the thread's start orders it before the worker's decrement.
        live_workers_.fetch_add(1, std::memory_order_relaxed);
        try {
            threads_.emplace_back([this, i] { worker_main(i); });
        } catch (const std::system_error &e) {
            live_workers_.fetch_sub(1, std::memory_order_relaxed);
            shutdown(0);
            return fail(Errc::io, "pool: cannot start worker %u: %s", i, e.what());
        }
        if (!opts_.cpu_affinity.empty()) {
            cpu_set_t set;
            CPU_ZERO(&set);
            const uint32_t cpu = opts_.cpu_affinity[i % opts_.cpu_affinity.size()];
            CPU_SET(cpu, &set);
            int err = pthread_setaffinity_np(threads_.back().native_handle(), sizeof set, &set);
            if (err != 0) {
                shutdown(0);
                return fail_errno(Errc::io, err, "pool: cannot pin worker %u to CPU %u", i, cpu);
            }
        }
    }
    if (opts_.metrics) {
        try {
            metrics_thread_ = std::thread([this] { metrics_main(); });
        } catch (const std::system_error &e) {
            shutdown(0);
            return fail(Errc::io, "pool: cannot start the metrics thread: %s", e.what());
        }
    }
    return Errc::ok;
}

Pool::~Pool() {
    shutdown(0);
    delete attachment_.load(std::memory_order_acquire);
}

Errc Pool::submit(const JobDesc &d) {
    SegmentQueue &q = *levels_[d.priority];
    uint64_t pos, got;
    switch (q.reserve(1, &pos, &got)) {
        case SegmentQueue::Reserve::ok:
            break;
        case SegmentQueue::Reserve::full:
            return fail_static(Errc::full, "pool: the job queue of this priority is full");
        case SegmentQueue::Reserve::closed:
            return fail_static(Errc::closed, "pool: shut down; not accepting jobs");
    }
    // Before publishing: the worker may drop the job's reference right after.
    if (d.cancel) d.cancel->retain();
    q.publish(pos, to_job(d));
    idle_.notify(1);
    return Errc::ok;
}

Errc Pool::submit_wait(const JobDesc &d, int64_t timeout_ns) {
    const uint64_t deadline = deadline_after(timeout_ns);
    for (int i = 0; i < kSubmitSpins; ++i) {
        Errc e = submit(d);
        if (e != Errc::full) return e;
        if (timeout_ns == 0) return fail(Errc::timedout, "pool: the job queue is full (timeout 0)");
        cpu_relax();
    }
    SegmentQueue &q = *levels_[d.priority];
    for (;;) {
        uint32_t ticket = space_.prepare();
        // seq_cst re-check after registering (IdleSet); workers notify after
        // each take that completes a segment's release (after_take): the only
        // event that turns room_for_next() true, besides closing.
        if (!q.room_for_next() && monotonic_ns() < deadline) space_.wait(ticket, deadline);
        space_.done();
        Errc e = submit(d);
        if (e != Errc::full) return e;
        if (monotonic_ns() >= deadline)
            return fail(Errc::timedout, "pool: the job queue stayed full");
    }
}

int Pool::submit_batch(const JobDesc *jobs, uint32_t count) {
    uint32_t done = 0;
    while (done < count) {
        // One reservation per run of equal priority.
        const uint32_t prio = jobs[done].priority;
        uint32_t run = 1;
        while (done + run < count && jobs[done + run].priority == prio) ++run;
        SegmentQueue &q = *levels_[prio];
        uint64_t first, got;
        SegmentQueue::Reserve r = q.reserve(run, &first, &got);
        if (r != SegmentQueue::Reserve::ok) {
            if (done > 0) break;
            return static_cast<int>(
                r == SegmentQueue::Reserve::full
                    ? fail_static(Errc::full, "pool: the job queue of this priority is full")
                    : fail_static(Errc::closed, "pool: shut down; not accepting jobs"));
        }
        for (uint64_t i = 0; i < got; ++i) {
            const JobDesc &d = jobs[done + i];
            if (d.cancel) d.cancel->retain();
            q.publish(first + i, to_job(d));
        }
        done += static_cast<uint32_t>(got);
        idle_.notify(static_cast<int>(got < INT_MAX ? got : INT_MAX));
        if (got < run) break;  // that level is full: the accepted prefix ends here
    }
    return static_cast<int>(done);
}

Errc Pool::attach(Queue *queue, MessageFn handler, void *ctx) {
    // Not a plain lock: shutdown holds shutdown_mu_ while it waits for the
    // workers, and a job (or hook) of this pool may be the caller. Shutdown
    // sets closing_ right after taking the mutex.
    std::unique_lock lock(shutdown_mu_, std::try_to_lock);
    while (!lock.owns_lock()) {
        if (closing_.load(std::memory_order_seq_cst))
            return fail(Errc::closed, "pool_attach_queue: the pool is shut down");
        std::this_thread::yield();
        lock.try_lock();
    }
    if (closing_.load(std::memory_order_relaxed))
        return fail(Errc::closed, "pool_attach_queue: the pool is shut down");
    if (attachment_.load(std::memory_order_relaxed))
        return fail(Errc::inval, "pool_attach_queue: a queue is already attached");
    auto a = std::make_unique<PoolAttachment>();
    a->queue = queue;
    a->handler = handler;
    a->ctx = ctx;
    a->msg_cap = queue->max_message_size();
    size_t fit = kAttachBytesPerWorker / (a->msg_cap ? a->msg_cap : 1);
    a->per_worker = static_cast<uint32_t>(fit < 1                 ? 1
                                          : fit > opts_.max_batch ? opts_.max_batch
                                                                  : fit);
    const size_t nbufs = size_t{workers()} * a->per_worker;
    a->bytes.reset(new unsigned char[nbufs * a->msg_cap + 1]);
    a->bufs.reset(new MutBuf[nbufs]);
    for (size_t i = 0; i < nbufs; ++i) a->bufs[i] = MutBuf{a->bytes.get() + i * a->msg_cap, 0, 0};
    // release: the workers' acquire load sees the buffers built.
    attachment_.store(a.release(), std::memory_order_release);
    idle_.notify_all();  // sleeping workers start watching the queue
    return Errc::ok;
}

void Pool::stats(PoolStats *out) const {
    PoolStats s;
    s.workers = workers();
    s.queue_capacity = levels_[0]->capacity();
    s.segment_size = levels_[0]->segment_size();
    for (const auto &level : levels_) {
        // Claimed first: depth is never negative although both move.
        uint64_t claimed = level->claimed();
        uint64_t reserved = level->reserved();
        s.submitted += reserved;
        s.queue_depth += reserved - claimed;
    }
    for (uint32_t i = 0; i < workers(); ++i) {
        const WorkerState &w = states_[i];
        s.completed += w.completed.get();
        s.cancelled += w.cancelled.get();
        s.expired += w.expired.get();
        s.failed += w.failed.get();
        s.batches += w.batches.get();
        s.batch_jobs += w.batch_jobs.get();
        s.messages += w.messages.get();
        s.message_failures += w.message_failures.get();
    }
    *out = s;
}

Errc Pool::shutdown(int64_t timeout_ns) {
    if (is_own_worker())
        return fail(Errc::perm, "pool_shutdown: called from a worker of the same pool");
    std::lock_guard lock(shutdown_mu_);
    if (joined_) return Errc::ok;
    const uint64_t deadline = deadline_after(timeout_ns);
    // Close every level first: from here on no position can be reserved, so
    // "reserved == claimed on every level" means no job will ever come.
    for (auto &level : levels_) level->close();
    // seq_cst: after the close flags in the total order; a worker that sees
    // closing_ and then finds the levels drained may exit.
    closing_.store(1, std::memory_order_seq_cst);
    idle_.notify_all();
    space_.notify_all();  // blocked submitters return CQ_ECLOSED

    bool timed_out = false;
    for (;;) {
        // acquire: pairs with each worker's release decrement at exit.
        uint32_t live = live_workers_.load(std::memory_order_acquire);
        if (live == 0) break;
        if (!timed_out && monotonic_ns() >= deadline) {
            timed_out = true;
            // Past the deadline: what is still queued is cancelled, not run.
            cancel_rest_.store(1, std::memory_order_relaxed);
            idle_.notify_all();
            continue;
        }
        futex_wait(reinterpret_cast<const uint32_t *>(&live_workers_), live,
                   timed_out ? UINT64_MAX : deadline);
    }
    for (auto &t : threads_) t.join();
    if (metrics_thread_.joinable()) {
        metrics_stop_.store(1, std::memory_order_relaxed);
        futex_wake(reinterpret_cast<const uint32_t *>(&metrics_stop_), 1);
        metrics_thread_.join();
    }
    joined_ = true;
    if (timed_out)
        return fail(Errc::timedout,
                    "pool_shutdown: jobs were still queued at the deadline; "
                    "they were cancelled");
    return Errc::ok;
}

}  // namespace cq
