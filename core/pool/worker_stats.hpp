// Counters of a pool: one set per worker, written only by that worker,
// summed by Pool::stats(). Submitted jobs need no counter: a queue's tail is
// the number of positions reserved, i.e. of jobs accepted.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/pool/job.hpp"

namespace cq {

struct PoolStats {
    uint32_t workers = 0;
    uint32_t queue_capacity = 0;
    uint32_t segment_size = 0;
    uint64_t submitted = 0;
    uint64_t completed = 0;
    uint64_t cancelled = 0;
    uint64_t expired = 0;
    uint64_t failed = 0;
    uint64_t queue_depth = 0;
    uint64_t batches = 0;
    uint64_t batch_jobs = 0;
    uint64_t messages = 0;
    uint64_t message_failures = 0;
};

// A counter with one writer: a plain load and store (no RMW on the hot
// path). relaxed: readers only need some recent value; after the workers are
// joined, join() orders every store before the final read.
class OwnedCounter {
  public:
    void add(uint64_t k) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) + k, std::memory_order_relaxed);
    }
    uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

  private:
    std::atomic<uint64_t> v_{0};
};

struct alignas(64) WorkerState {
    OwnedCounter completed, cancelled, expired, failed;
    OwnedCounter batches, batch_jobs, messages, message_failures;
    uint32_t index = 0;
    uint32_t since_fair = 0;       // batches since the last rotation turn
    uint32_t turn = 0;             // rotation turns taken
    std::unique_ptr<Job[]> batch;  // max_batch jobs, allocated at create
};

}  // namespace cq
