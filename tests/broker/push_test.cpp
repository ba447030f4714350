// Push delivery through a cq_pool: in order, acknowledged per batch up to a
// handler's failure, stopped by unsubscribe or by the pool's shutdown.
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/broker/broker_util.hpp"
#include "tests/util/test_util.hpp"

using brokertest::drain;
using brokertest::open_broker;
using brokertest::publish;

namespace {

struct Seen {
    std::mutex mu;
    std::vector<uint64_t> offsets;
    uint64_t fail_at = UINT64_MAX;
    std::atomic<size_t> count{0};
};

int handler(void *ctx, const cq_message *m) {
    auto *s = static_cast<Seen *>(ctx);
    {
        std::lock_guard lock(s->mu);
        s->offsets.push_back(m->offset);
    }
    s->count.fetch_add(1);
    return m->offset == s->fail_at ? 1 : 0;
}

cq_pool *make_pool() {
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = 2;
    cq_pool *p = nullptr;
    EXPECT_EQ(pool_create(&o, &p), CQ_OK) << cq_last_error();
    return p;
}

void wait_for(Seen &s, size_t n) {
    for (int i = 0; i < 10000 && s.count.load() < n; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TEST(BrokerPush, InOrderAndAcknowledgedUpToTheFirstFailure) {
    cqtest::TempDir d;
    cq_broker *b = open_broker(d.path());
    cq_pool *pool = make_pool();
    Seen seen;
    seen.fail_at = 500;
    cq_subscribe_options o = CQ_SUBSCRIBE_OPTIONS_INIT;
    o.pattern = "p";
    o.subscriber_id = "pusher";
    o.flags = CQ_SUB_DURABLE | CQ_SUB_EARLIEST;
    cq_subscription *s = nullptr;
    ASSERT_EQ(broker_subscribe_push(b, &o, pool, handler, &seen, &s), CQ_OK) << cq_last_error();
    cq_message m;
    EXPECT_EQ(broker_poll(s, &m, 0), CQ_EPERM);
    EXPECT_EQ(broker_ack(s, "p", 0), CQ_EPERM);
    for (int i = 0; i < 1000; ++i) publish(b, "p", std::to_string(i));
    wait_for(seen, 1000);
    ASSERT_EQ(broker_unsubscribe(s), CQ_OK);
    {
        std::lock_guard lock(seen.mu);
        ASSERT_EQ(seen.offsets.size(), 1000u);
        for (size_t i = 0; i < seen.offsets.size(); ++i) ASSERT_EQ(seen.offsets[i], i);
    }
    // The handler failed at 500: a new subscription resumes there.
    cq_subscription *pull = nullptr;
    ASSERT_EQ(broker_subscribe(b, "p", "pusher", CQ_SUB_DURABLE, &pull), CQ_OK);
    auto rest = drain(pull);
    ASSERT_EQ(rest.size(), 500u);
    EXPECT_EQ(rest[0].offset, 500u);
    broker_unsubscribe(pull);
    EXPECT_EQ(pool_shutdown(pool, CQ_WAIT_FOREVER), CQ_OK);
    pool_destroy(pool);
    broker_close(b);
}

TEST(BrokerPush, PoolShutdownStopsDeliveryAndArgumentsAreChecked) {
    cqtest::TempDir d;
    cq_broker *b = open_broker(d.path());
    cq_pool *pool = make_pool();
    cq_subscribe_options o = CQ_SUBSCRIBE_OPTIONS_INIT;
    o.pattern = "q";
    cq_subscription *s = nullptr;
    Seen seen;
    EXPECT_EQ(broker_subscribe_push(b, &o, nullptr, handler, &seen, &s), CQ_EINVAL);
    EXPECT_EQ(broker_subscribe_push(b, &o, pool, nullptr, &seen, &s), CQ_EINVAL);
    o.pattern = "bad..pattern";
    EXPECT_EQ(broker_subscribe_push(b, &o, pool, handler, &seen, &s), CQ_EINVAL);
    o.pattern = "q";
    ASSERT_EQ(broker_subscribe_push(b, &o, pool, handler, &seen, &s), CQ_OK);
    publish(b, "q", "one");
    wait_for(seen, 1);
    EXPECT_EQ(seen.count.load(), 1u);
    ASSERT_EQ(pool_shutdown(pool, CQ_WAIT_FOREVER), CQ_OK);
    publish(b, "q", "two");  // nobody runs it now
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(seen.count.load(), 1u);
    EXPECT_EQ(broker_unsubscribe(s), CQ_OK);  // returns although the pool is gone
    pool_destroy(pool);
    broker_close(b);
}

}  // namespace
