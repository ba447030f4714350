// The worker pool: the operations of the C API's pool_* functions, in C++.
//
// One SegmentQueue per priority level; workers take batches from them
// (take_batch, worker.cpp), run them (run_batch), drain an attached
// shared-memory queue, and sleep on a futex when idle (idle.hpp). Shutdown
// closes the queues, lets the workers drain them, and past its deadline
// tells them to cancel instead of run (pool.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/pool/attachment.hpp"
#include "core/pool/idle.hpp"
#include "core/pool/job.hpp"
#include "core/pool/segment_queue.hpp"
#include "core/pool/worker_stats.hpp"
#include "core/util/errors.hpp"

namespace cq {

inline constexpr uint32_t kPriorityLevels = 3;

struct PoolOptions {
    uint32_t workers = 0;  // 0 = online CPUs
    uint32_t queue_capacity = 16384;
    uint32_t segment_size = 256;
    uint32_t max_batch = 64;
    uint32_t fairness = 16;
    std::vector<uint32_t> cpu_affinity;
    void (*on_thread_start)(void *, uint32_t) = nullptr;
    void (*on_thread_stop)(void *, uint32_t) = nullptr;
    void *hook_user = nullptr;
    std::function<void(const PoolStats &)> metrics;  // called on the metrics thread
    int64_t metrics_interval_ns = 0;
};

class Pool {
  public:
    // Validates (Errc::inval naming the field), allocates, starts workers.
    static Errc create(const PoolOptions &opts, std::unique_ptr<Pool> *out);
    // Without a prior shutdown: shutdown(0) first.
    ~Pool();

    Errc submit(const JobDesc &job);
    Errc submit_wait(const JobDesc &job, int64_t timeout_ns);
    // Count accepted (> 0) or a negative Errc value. Jobs must be valid.
    int submit_batch(const JobDesc *jobs, uint32_t count);
    Errc attach(Queue *q, MessageFn handler, void *ctx);
    Errc shutdown(int64_t timeout_ns);
    void stats(PoolStats *out) const;

    // References besides the owner's (a push subscription submitting to the
    // pool holds one): the pool is freed by the last release, so an owner
    // that destroys it first only shuts it down (pool_destroy does that).
    void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() {
        // acq_rel: every use through this reference happens before the delete.
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    // Whether the calling thread is one of this pool's workers.
    bool is_own_worker() const;
    // Marks the job running on this thread failed; false if none is running.
    static bool fail_current_job();

    uint32_t workers() const { return nworkers_; }

  private:
    std::atomic<uint32_t> refs_{1};
    explicit Pool(const PoolOptions &opts, uint32_t capacity, uint32_t segment_size,
                  uint32_t workers);

    Errc start();
    void worker_main(uint32_t index);
    uint32_t take_batch(WorkerState &w, Job *out, bool *segment_freed);
    void run_batch(WorkerState &w, Job *jobs, uint32_t n);
    bool drain_attached(WorkerState &w, const PoolAttachment *a, bool wait);
    void idle(WorkerState &w);
    bool has_work() const;
    bool drained() const;
    void after_take();
    void metrics_main();
    void stop_and_join();

    static Job to_job(const JobDesc &d) {
        return Job{d.fn, d.arg, d.cleanup, static_cast<uint64_t>(d.deadline_ns), d.cancel};
    }

    const PoolOptions opts_;
    const uint32_t nworkers_;
    std::unique_ptr<SegmentQueue> levels_[kPriorityLevels];
    std::unique_ptr<WorkerState[]> states_;
    std::vector<std::thread> threads_;
    std::thread metrics_thread_;

    // Read-mostly flags, on their own line: every job reads cancel_rest_.
    alignas(64) std::atomic<uint32_t> closing_{0};  // shutdown began: drain, then exit
    std::atomic<uint32_t> cancel_rest_{0};          // shutdown deadline passed: cancel
    std::atomic<PoolAttachment *> attachment_{nullptr};
    std::atomic<uint32_t> watcher_{0};  // a worker waits on the attached queue

    IdleSet idle_;                                       // workers asleep, and their futex word
    IdleSet space_;                                      // submitters waiting for room, and theirs
    alignas(64) std::atomic<uint32_t> live_workers_{0};  // futex word: shutdown waits for 0
    std::atomic<uint32_t> metrics_stop_{0};              // futex word of the metrics thread

    std::mutex shutdown_mu_;  // serialises shutdown/attach; never taken on a hot path
    bool joined_ = false;
};

}  // namespace cq
