#include "core/broker/push.hpp"

#include <climits>
#include <map>
#include <set>

#include "core/shm/futex.hpp"
#include "core/util/clock.hpp"

namespace cq::broker {
namespace {

constexpr size_t kBatch = 64;

struct Batch {
    PushHandler handler;
    void *ctx;
    Delivered msgs[kBatch];
    int results[kBatch];
    size_t n = 0;
    int status = 0;
    std::atomic<uint32_t> done{0};  // futex word: the job's cleanup ran
};

void run_batch(void *arg) {
    auto *b = static_cast<Batch *>(arg);
    for (size_t i = 0; i < b->n; ++i) b->results[i] = b->handler(b->ctx, &b->msgs[i]);
}

// Runs exactly once per accepted job, after it or instead of it.
void batch_done(void *arg, int status) {
    auto *b = static_cast<Batch *>(arg);
    b->status = status;
    b->done.store(1, std::memory_order_release);
    futex_wake(reinterpret_cast<const uint32_t *>(&b->done), 1);
}

}  // namespace

Errc PushDelivery::start(std::unique_ptr<Subscription> sub, Pool *pool, PushHandler handler,
                         void *ctx, std::unique_ptr<PushDelivery> *out) {
    std::unique_ptr<PushDelivery> p(new PushDelivery);
    p->sub_ = std::move(sub);
    p->pool_ = pool;
    p->handler_ = handler;
    p->ctx_ = ctx;
    PushDelivery *self = p.get();
    p->thread_ = std::thread([self] { self->loop(); });
    *out = std::move(p);
    return Errc::ok;
}

PushDelivery::~PushDelivery() {
    stop();
}

Errc PushDelivery::stop() {
    stop_.store(true, std::memory_order_release);
    if (thread_.joinable()) thread_.join();
    return sub_ ? sub_->close() : Errc::ok;
}

void PushDelivery::loop() {
    auto b = std::make_unique<Batch>();
    b->handler = handler_;
    b->ctx = ctx_;
    while (!stop_.load(std::memory_order_acquire)) {
        size_t got = 0;
        Errc e = sub_->poll(b->msgs, kBatch, 50'000'000, &got);
        if (e == Errc::timedout) continue;
        if (e != Errc::ok) {
            // A corrupt topic is skipped by its cursor from now on; other
            // errors (I/O) are retried after a pause.
            sleep_ns(10'000'000);
            continue;
        }
        b->n = got;
        for (size_t i = 0; i < got; ++i) b->results[i] = -1;  // not run
        b->done.store(0, std::memory_order_relaxed);
        JobDesc d{sizeof(JobDesc), 1, run_batch, b.get(), batch_done, 0, nullptr};
        for (;;) {
            e = pool_->submit_wait(d, 100'000'000);
            if (e != Errc::timedout || stop_.load(std::memory_order_acquire)) break;
        }
        if (e != Errc::ok) return;  // pool closed or stopping: nothing of the batch acknowledged
        while (!b->done.load(std::memory_order_acquire))
            futex_wait(reinterpret_cast<const uint32_t *>(&b->done), 0, UINT64_MAX);
        if (b->status != 0) return;  // cancelled at the pool's shutdown: redelivered later
        // Per topic, acknowledge up to the first record whose handler failed.
        // A topic whose handler failed once is not acknowledged any further
        // in this subscription's life (acks are cumulative): the failed
        // record and what follows are redelivered to the next subscription.
        std::map<std::string, uint64_t> ack;
        for (size_t i = 0; i < got; ++i) {
            const std::string topic = b->msgs[i].topic;
            if (b->results[i] != 0) failures_.fetch_add(1, std::memory_order_relaxed);
            if (stopped_.count(topic)) continue;
            if (b->results[i] != 0) {
                stopped_.insert(topic);
                continue;
            }
            ack[topic] = b->msgs[i].offset;
        }
        for (auto &[topic, offset] : ack) sub_->ack(topic, offset);  // durable only persists
    }
}

}  // namespace cq::broker
