// The workers' side of the pool: take a batch, run it, drain the attached
// shared-memory queue, sleep when idle, exit when shut down and drained.
// The metrics thread lives here too (it is the pool's other thread).
#include <cxxabi.h>

#include <climits>

#include "core/pool/cancel_token.hpp"
#include "core/pool/pool.hpp"
#include "core/util/clock.hpp"

namespace cq {

namespace {
constexpr int kIdleSpins = 512;  // polls (a few microseconds) before a worker sleeps
// How long the worker watching an attached queue sleeps on it before it looks
// at the pool's own queues again (bounds a job's wake-up latency when every
// worker is watching; see docs/pool.md).
constexpr int64_t kAttachWaitNs = 1'000'000;

thread_local const Pool *t_pool = nullptr;  // the pool this thread works for (worker, metrics)
thread_local bool t_in_job = false;         // a job is running on this thread
thread_local bool t_job_failed = false;     // it called pool_job_fail

// Runs the job; CQ_OK or Errc::io when it threw or called pool_job_fail.
int run_one(const Job &j) {
    t_in_job = true;
    t_job_failed = false;
    try {
        j.fn(j.arg);
    } catch (const abi::__forced_unwind &) {
        t_in_job = false;  // thread cancellation must unwind (the worker's guard accounts)
        throw;
    } catch (...) {
        t_job_failed = true;  // isolated: counted as failed, the worker goes on
    }
    t_in_job = false;
    return t_job_failed ? to_int(Errc::io) : 0;
}
}  // namespace

bool Pool::is_own_worker() const {
    return t_pool == this;
}

bool Pool::fail_current_job() {
    if (!t_in_job) return false;
    t_job_failed = true;
    return true;
}

void Pool::worker_main(uint32_t index) {
    WorkerState &w = states_[index];
    t_pool = this;
    // Leaves the live count however the thread ends (a job may unwind it).
    struct ExitGuard {
        Pool *p;
        ~ExitGuard() {
            t_pool = nullptr;
            // release: this worker's counters and everything its jobs did
            // happen-before shutdown's acquire load that sees 0.
            if (p->live_workers_.fetch_sub(1, std::memory_order_release) == 1)
                futex_wake(reinterpret_cast<const uint32_t *>(&p->live_workers_), INT_MAX);
        }
    } guard{this};
    if (opts_.on_thread_start) try {
            opts_.on_thread_start(opts_.hook_user, index);
        } catch (...) {
        }
    Job *batch = w.batch.get();
    for (;;) {
        bool segment_freed = false;
        if (uint32_t n = take_batch(w, batch, &segment_freed)) {
            if (segment_freed) after_take();
            // Wake chaining: a submit that found a wake-up in flight (ours)
            // woke nobody. If work is left that this batch did not take
            // (another level, past max_batch), pass the wake-up on before
            // running: a worker never sleeps while a job is queued. Our
            // wake-up was consumed (done() cleared pending_) before the take,
            // so a skipped submit's job is in the tails has_work() reads.
            if (idle_.has_sleepers() && has_work()) idle_.notify(1);
            run_batch(w, batch, n);
            continue;
        }
        // acquire: pairs with attach()'s release; the buffers are built.
        const PoolAttachment *a = attachment_.load(std::memory_order_acquire);
        if (a && !closing_.load(std::memory_order_relaxed) && drain_attached(w, a, false)) continue;
        // seq_cst: the close flags precede closing_ in the total order, so
        // once it is seen, has_work() reads final tails: nothing more can come.
        if (closing_.load(std::memory_order_seq_cst) && !has_work()) break;
        idle(w);
    }
    if (opts_.on_thread_stop) try {
            opts_.on_thread_stop(opts_.hook_user, index);
        } catch (...) {
        }
}

uint32_t Pool::take_batch(WorkerState &w, Job *out, bool *segment_freed) {
    const uint32_t max = opts_.max_batch;
    // No starvation: every fairness-th batch is a rotation turn, which offers
    // the first pick to the levels in turn (docs/pool.md "Priorities").
    if (w.since_fair + 1 >= opts_.fairness) {
        w.since_fair = 0;
        const uint32_t level = w.turn++ % kPriorityLevels;
        if (uint32_t n = levels_[level]->take(out, max, segment_freed)) return n;
    }
    for (uint32_t level = kPriorityLevels; level-- > 0;) {
        if (uint32_t n = levels_[level]->take(out, max, segment_freed)) {
            ++w.since_fair;
            return n;
        }
    }
    return 0;
}

void Pool::after_take() {
    // The take released a segment's last slots with a seq_cst RMW; blocked
    // submitters may go on. Takes that free less cannot make room (room is
    // per segment), so waking for them would only cost a futile futex_wake
    // and a context switch on the submitter's CPU.
    space_.notify(INT_MAX);
}

void Pool::run_batch(WorkerState &w, Job *jobs, uint32_t n) {
    uint64_t completed = 0, cancelled = 0, expired = 0, failed = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const Job &j = jobs[i];
        int status;
        // relaxed: a flag with no data behind it; seeing it late only runs a
        // job that could have run before the deadline.
        if (cancel_rest_.load(std::memory_order_relaxed) || (j.cancel && j.cancel->cancelled())) {
            status = to_int(Errc::canceled);
            ++cancelled;
        } else if (j.deadline_ns && monotonic_ns() >= j.deadline_ns) {
            status = to_int(Errc::timedout);
            ++expired;
        } else {
            status = run_one(j);
            status == 0 ? ++completed : ++failed;
        }
        if (j.cleanup) try {
                j.cleanup(j.arg, status);
            } catch (...) {
                // The job is accounted by its status; a throwing cleanup changes nothing.
            }
        if (j.cancel) j.cancel->release();
    }
    w.completed.add(completed);
    w.cancelled.add(cancelled);
    w.expired.add(expired);
    w.failed.add(failed);
    w.batches.add(1);
    w.batch_jobs.add(n);
}

bool Pool::has_work() const {
    for (const auto &level : levels_)
        if (level->reserved() != level->claimed()) return true;
    return false;
}

// Takes messages from the attached queue (one, waiting up to kAttachWaitNs,
// when wait) and hands them to the handler. False if none was taken.
bool Pool::drain_attached(WorkerState &w, const PoolAttachment *a, bool wait) {
    MutBuf *bufs = a->bufs_of(w.index);
    int n;
    if (wait) {
        size_t len = 0;
        Errc e = a->queue->dequeue_wait(bufs[0].data, a->msg_cap, &len, kAttachWaitNs);
        bufs[0].len = len;
        n = e == Errc::ok ? 1 : 0;
    } else {
        for (uint32_t i = 0; i < a->per_worker; ++i) bufs[i].cap = a->msg_cap;
        n = a->queue->dequeue_batch(bufs, a->per_worker);
        // A full batch: more may be waiting; bring a sleeping worker to help.
        if (n == static_cast<int>(a->per_worker)) idle_.notify(1);
    }
    if (n <= 0) return false;
    uint64_t failures = 0;
    for (int i = 0; i < n; ++i) {
        try {
            a->handler(a->ctx, bufs[i].data, bufs[i].len);
        } catch (const abi::__forced_unwind &) {
            throw;
        } catch (...) {
            ++failures;
        }
    }
    w.messages.add(static_cast<uint64_t>(n));
    w.message_failures.add(failures);
    return true;
}

void Pool::idle(WorkerState &w) {
    for (int i = 0; i < kIdleSpins; ++i) {
        if (has_work() || closing_.load(std::memory_order_relaxed)) return;
        cpu_relax();
    }
    const PoolAttachment *a = attachment_.load(std::memory_order_acquire);
    // One worker at a time waits on the attached queue, the others on the pool.
    // acq_rel: hands the watcher role over cleanly (no data ride on it).
    if (a && watcher_.exchange(1, std::memory_order_acq_rel) == 0) {
        const uint64_t start = monotonic_ns();
        bool got = drain_attached(w, a, true);
        watcher_.store(0, std::memory_order_release);
        const uint64_t until = start + static_cast<uint64_t>(kAttachWaitNs);
        if (got || closing_.load(std::memory_order_relaxed) || monotonic_ns() >= until) return;
        // The queue failed at once (it would again): wait out the period on the pool instead.
        uint32_t ticket = idle_.prepare();
        if (!has_work() && !closing_.load(std::memory_order_seq_cst)) idle_.wait(ticket, until);
        idle_.done();
        return;
    }
    uint32_t ticket = idle_.prepare();
    // The sleeper's half of the handshake (idle.hpp): seq_cst loads of the
    // tails in has_work(), after the registering RMW in prepare().
    if (!has_work() && !closing_.load(std::memory_order_seq_cst)) idle_.wait(ticket, UINT64_MAX);
    idle_.done();
}

void Pool::metrics_main() {
    // The pool's own thread, like a worker: pool_shutdown / pool_destroy
    // from the callback are refused (they would join this thread).
    t_pool = this;
    const uint64_t interval = static_cast<uint64_t>(opts_.metrics_interval_ns);
    for (;;) {
        const uint64_t deadline = monotonic_ns() + interval;
        // acquire: nothing rides on the flag; acquire keeps the reasoning simple.
        while (metrics_stop_.load(std::memory_order_acquire) == 0 && monotonic_ns() < deadline)
            futex_wait(reinterpret_cast<const uint32_t *>(&metrics_stop_), 0, deadline);
        if (metrics_stop_.load(std::memory_order_acquire) != 0) return;
        PoolStats s;
        stats(&s);
        try {
            opts_.metrics(s);
        } catch (...) {
        }
    }
}

}  // namespace cq
