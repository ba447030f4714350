#include "core/broker/push.hpp"

#include <climits>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/shm/futex.hpp"
#include "core/util/clock.hpp"
#include "core/util/errors.hpp"

namespace cq::broker {
namespace {

constexpr size_t kBatch = kPushBatch;

struct Batch {
    PushHandler handler;
    PushBatchHandler batch_handler;
    void *ctx;
    Delivered msgs[kBatch];
    int results[kBatch];  // 0: handled; anything else: failed or not run
    size_t n = 0;
    int status = 0;
    std::atomic<uint32_t> done{0};  // futex word: the job's cleanup ran
};

// results[i]: 0 handled, 1 failed, -1 not run (delivered again).
void run_batch(void *arg) {
    auto *b = static_cast<Batch *>(arg);
    if (b->batch_handler) {
        // If the handler throws, the whole batch failed.
        for (size_t i = 0; i < b->n; ++i) b->results[i] = 1;
        const size_t handled = b->batch_handler(b->ctx, b->msgs, b->n);
        for (size_t i = handled; i < b->n; ++i) b->results[i] = i == handled ? 1 : -1;
        for (size_t i = 0; i < b->n && i < handled; ++i) b->results[i] = 0;
        return;
    }
    for (size_t i = 0; i < b->n; ++i) {
        b->results[i] = 1;  // stays failed if the handler throws
        b->results[i] = b->handler(b->ctx, &b->msgs[i]) == 0 ? 0 : 1;
    }
}

// Runs exactly once per accepted job, after it or instead of it.
void batch_done(void *arg, int status) {
    auto *b = static_cast<Batch *>(arg);
    b->status = status;
    b->done.store(1, std::memory_order_release);
    futex_wake(reinterpret_cast<const uint32_t *>(&b->done), 1);
}

// A topic to acknowledge up to, or to go back to.
struct Mark {
    const char *topic;
    uint64_t offset;
};

// Per topic, acknowledge up to the first record whose handler failed. A
// topic whose handler failed once is not acknowledged any further in this
// subscription's life (acks are cumulative): the failed record and what
// follows are redelivered to the next subscription. Records that did not run
// (after a failure in the same job) are delivered again: each of their topics
// goes back to the first of them. A record's topic pointer is the same for
// every record of that topic (it names the subscription's cursor).
void settle(const Batch &b, size_t got, std::set<std::string, std::less<>> &stopped,
            std::atomic<uint64_t> &failures, std::vector<Mark> *ack, std::vector<Mark> *again) {
    ack->clear();
    again->clear();
    auto find = [](std::vector<Mark> &v, const char *topic) -> Mark * {
        for (Mark &m : v)
            if (m.topic == topic) return &m;
        return nullptr;
    };
    for (size_t i = 0; i < got; ++i) {
        const char *topic = b.msgs[i].topic;
        const uint64_t offset = b.msgs[i].offset;
        if (b.results[i] < 0) {
            if (!find(*again, topic)) again->push_back({topic, offset});
            continue;
        }
        if (b.results[i] != 0) failures.fetch_add(1, std::memory_order_relaxed);
        if (!stopped.empty() && stopped.count(std::string_view(topic))) continue;
        if (b.results[i] != 0) {
            stopped.emplace(topic);
            continue;
        }
        if (Mark *m = find(*ack, topic))
            m->offset = offset;
        else
            ack->push_back({topic, offset});
    }
}

}  // namespace

Errc PushDelivery::start(std::unique_ptr<Subscription> sub, Pool *pool, PushHandler handler,
                         PushBatchHandler batch_handler, void *ctx,
                         std::unique_ptr<PushDelivery> *out) {
    std::unique_ptr<PushDelivery> p(new PushDelivery);
    p->sub_ = std::move(sub);
    pool->retain();  // released in stop(): an early pool_destroy leaves it closed, not freed
    p->pool_ = pool;
    p->handler_ = handler;
    p->batch_handler_ = batch_handler;
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
    if (sub_) sub_->interrupt();  // a poll in progress ends now, not at its timeout
    if (thread_.joinable()) thread_.join();
    if (pool_) std::exchange(pool_, nullptr)->release();
    return sub_ ? sub_->close() : Errc::ok;
}

void PushDelivery::loop() {
    std::vector<Mark> ack, again;
    ack.reserve(kBatch);
    again.reserve(kBatch);
    auto b = std::make_unique<Batch>();
    b->handler = handler_;
    b->batch_handler = batch_handler_;
    b->ctx = ctx_;
    while (!stop_.load(std::memory_order_acquire)) {
        size_t got = 0;
        Errc e = sub_->poll(b->msgs, kBatch, 50'000'000, &got);
        if (e == Errc::timedout || e == Errc::canceled) continue;  // canceled: stop() is here
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
        // Cancelled at the pool's shutdown: nothing ran, and nothing will.
        if (b->status == to_int(Errc::canceled)) return;
        settle(*b, got, stopped_, failures_, &ack, &again);
        for (const Mark &m : ack) sub_->ack(m.topic, m.offset);  // durable only persists
        for (const Mark &m : again) sub_->seek(m.topic, m.offset);
    }
}

}  // namespace cq::broker
