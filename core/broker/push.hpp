// Push delivery: a dispatcher thread polls a subscription and hands each
// batch of records to a cq_pool as one job, which calls the user's handler
// per record in order (or once with the whole batch); then acknowledges
// (durable subscriptions) every record the handler accepted, up to the first
// it did not, per topic (after a failure, nothing more of that topic in this
// subscription's life).
//
// One batch is in flight at a time: records of a subscription reach the
// handler in order, and a batch's data stays mapped until its job is done.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "core/broker/broker.hpp"
#include "core/pool/pool.hpp"

namespace cq::broker {

using PushHandler = int (*)(void *ctx, const Delivered *msg);
// Returns how many leading records of msgs it handled.
using PushBatchHandler = size_t (*)(void *ctx, const Delivered *msgs, size_t count);

// Records handed to one job at most.
inline constexpr size_t kPushBatch = 64;

class PushDelivery {
  public:
    // Exactly one of handler and batch_handler is set.
    static Errc start(std::unique_ptr<Subscription> sub, Pool *pool, PushHandler handler,
                      PushBatchHandler batch_handler, void *ctx,
                      std::unique_ptr<PushDelivery> *out);
    ~PushDelivery();
    // Stops the dispatcher (after the batch in flight), persists acks.
    Errc stop();
    Subscription &subscription() { return *sub_; }
    uint64_t handler_failures() const { return failures_.load(std::memory_order_relaxed); }

  private:
    PushDelivery() = default;
    void loop();

    std::unique_ptr<Subscription> sub_;
    Pool *pool_ = nullptr;
    PushHandler handler_ = nullptr;
    PushBatchHandler batch_handler_ = nullptr;
    void *ctx_ = nullptr;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> failures_{0};
    std::set<std::string, std::less<>>
        stopped_;  // topics whose handler failed (dispatcher thread only)
};

}  // namespace cq::broker
