// Push delivery through a cq_pool: in order, acknowledged per batch up to a
// handler's failure, stopped by unsubscribe or by the pool's shutdown.
#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
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

// A broker directory and a 2-worker pool per test; whatever the test did
// not close itself is closed at the end.
class BrokerPush : public ::testing::Test {
  protected:
    void TearDown() override {
        if (pool) {
            EXPECT_EQ(pool_shutdown(pool, CQ_WAIT_FOREVER), CQ_OK);
            pool_destroy(pool);
        }
        if (b) {
            EXPECT_EQ(broker_close(b), CQ_OK) << cq_last_error();
        }
    }
    // What a durable subscriber id resumes with on topic: every record from its
    // first unacknowledged one.
    std::vector<brokertest::Record> resume(const char *topic, const char *id) {
        cq_subscription *pull = nullptr;
        EXPECT_EQ(broker_subscribe(b, topic, id, CQ_SUB_DURABLE, &pull), CQ_OK) << cq_last_error();
        auto rest = drain(pull);
        EXPECT_EQ(broker_unsubscribe(pull), CQ_OK);
        return rest;
    }

    cqtest::TempDir d;
    cq_broker *b = open_broker(d.path());
    cq_pool *pool = make_pool();
};

void wait_for(Seen &s, size_t n) {
    cqtest::wait_until([&] { return s.count.load() >= n; }, 10'000);
}

TEST_F(BrokerPush, InOrderAndAcknowledgedUpToTheFirstFailure) {
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
    EXPECT_EQ(broker_poll_batch(s, &m, 1, 0), CQ_EPERM);
    EXPECT_EQ(broker_seek(s, "p", 0), CQ_EPERM);
    EXPECT_EQ(broker_seek_time(s, 0), CQ_EPERM);
    cq_subscription_stats st = CQ_SUBSCRIPTION_STATS_INIT;
    EXPECT_EQ(broker_subscription_stats(s, "p", &st), CQ_EPERM);
    EXPECT_EQ(broker_interrupt(s), CQ_EPERM);
    for (int i = 0; i < 1000; ++i) publish(b, "p", std::to_string(i));
    wait_for(seen, 1000);
    ASSERT_EQ(broker_unsubscribe(s), CQ_OK);
    {
        std::lock_guard lock(seen.mu);
        ASSERT_EQ(seen.offsets.size(), 1000u);
        for (size_t i = 0; i < seen.offsets.size(); ++i) ASSERT_EQ(seen.offsets[i], i);
    }
    // The handler failed at 500: a new subscription resumes there.
    auto rest = resume("p", "pusher");
    ASSERT_EQ(rest.size(), 500u);
    EXPECT_EQ(rest[0].offset, 500u);
}

// A batch handler that records what it was given, and at one offset handles
// only what came before it (a short return), or throws there.
struct BatchSeen {
    std::mutex mu;
    std::vector<std::pair<std::string, uint64_t>> seen;  // every record handed over, in order
    std::vector<size_t> sizes;
    uint64_t short_at = UINT64_MAX;  // return the index of this offset (topic "p")
    uint64_t throw_at = UINT64_MAX;  // throw when a call holds it (topic "p")
    bool thrown = false;
    std::atomic<size_t> calls{0};
};

size_t batch_handler(void *ctx, const cq_message *m, size_t n) {
    auto *s = static_cast<BatchSeen *>(ctx);
    size_t ret = n;
    bool do_throw = false;
    {
        std::lock_guard lock(s->mu);
        s->sizes.push_back(n);
        for (size_t i = 0; i < n; ++i) {
            s->seen.emplace_back(m[i].topic, m[i].offset);
            if (std::string(m[i].topic) == "p" && m[i].offset == s->short_at && ret == n) ret = i;
            if (std::string(m[i].topic) == "p" && m[i].offset == s->throw_at && !s->thrown)
                do_throw = s->thrown = true;
        }
    }
    s->calls.fetch_add(1);
    if (do_throw) throw std::runtime_error("handler failed");
    return ret + 7 * (ret == n);  // above count counts as count
}

// Waits until the handler saw offset `last` of topic "p".
void wait_for_offset(BatchSeen &s, uint64_t last) {
    for (int i = 0; i < 10000; ++i) {
        {
            std::lock_guard lock(s.mu);
            for (auto &[t, o] : s.seen)
                if (t == "p" && o == last) return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void wait_for_count(BatchSeen &s, size_t n) {
    for (int i = 0; i < 10000; ++i) {
        {
            std::lock_guard lock(s.mu);
            if (s.seen.size() >= n) return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

cq_subscription *push_batch_sub(cq_broker *b, cq_pool *pool, BatchSeen *seen, const char *id) {
    cq_subscribe_options o = CQ_SUBSCRIBE_OPTIONS_INIT;
    o.pattern = "*";
    o.subscriber_id = id;
    o.flags = CQ_SUB_DURABLE | CQ_SUB_EARLIEST;
    cq_subscription *s = nullptr;
    EXPECT_EQ(broker_subscribe_push_batch(b, &o, pool, batch_handler, seen, &s), CQ_OK)
        << cq_last_error();
    return s;
}

TEST_F(BrokerPush, BatchHandlerTakesRunsInOrderAndAShortReturnRedeliversTheRest) {
    // Published before subscribing, so the first calls get full batches.
    for (int i = 0; i < 1000; ++i) publish(b, "p", std::to_string(i));
    BatchSeen seen;
    seen.short_at = 300;
    cq_subscription *s = push_batch_sub(b, pool, &seen, "batcher");
    ASSERT_NE(s, nullptr);
    wait_for_offset(seen, 999);
    ASSERT_EQ(broker_unsubscribe(s), CQ_OK);
    {
        std::lock_guard lock(seen.mu);
        size_t most = 0;
        for (size_t n : seen.sizes) {
            EXPECT_GE(n, 1u);
            EXPECT_LE(n, 64u);
            most = std::max(most, n);
        }
        EXPECT_EQ(most, 64u);
        EXPECT_LT(seen.sizes.size(), 100u);  // batches, not one call per record
        // Every offset in order, up to the end of the call that held 300
        // (it failed there); then from 301 again (the call did not handle
        // what came after 300).
        size_t at = 0;
        uint64_t end_of_failed_call = 0;
        for (size_t n : seen.sizes) {
            if (seen.seen[at].second <= 300 && seen.seen[at + n - 1].second >= 300) {
                end_of_failed_call = seen.seen[at + n - 1].second;
                break;
            }
            at += n;
        }
        std::vector<uint64_t> want, got;
        for (uint64_t o = 0; o <= end_of_failed_call; ++o) want.push_back(o);
        for (uint64_t o = 301; o < 1000; ++o) want.push_back(o);
        for (auto &[t, o] : seen.seen) got.push_back(o);
        EXPECT_EQ(got, want);
    }
    // Acknowledged up to 299: a new subscription resumes at the failed record.
    auto rest = resume("p", "batcher");
    ASSERT_EQ(rest.size(), 700u);
    EXPECT_EQ(rest[0].offset, 300u);
}

TEST_F(BrokerPush, ThrowingBatchHandlerFailsItsWholeCallAndDeliveryGoesOn) {
    for (int i = 0; i < 200; ++i) {
        publish(b, "p", std::to_string(i));
        publish(b, "other", std::to_string(i));
    }
    BatchSeen seen;
    seen.throw_at = 100;
    cq_subscription *s = push_batch_sub(b, pool, &seen, "thrower");
    ASSERT_NE(s, nullptr);
    wait_for_count(seen, 400);
    ASSERT_EQ(broker_unsubscribe(s), CQ_OK);
    cq_pool_stats ps = CQ_POOL_STATS_INIT;
    ASSERT_EQ(pool_stats(pool, &ps), CQ_OK);
    EXPECT_EQ(ps.failed, 1u);
    uint64_t first_of_failed_call_p = UINT64_MAX;
    uint64_t first_of_failed_call_other = UINT64_MAX;
    {
        std::lock_guard lock(seen.mu);
        size_t at = 0;
        for (size_t n : seen.sizes) {
            bool holds = false;
            for (size_t i = at; i < at + n; ++i)
                holds |= seen.seen[i].first == "p" && seen.seen[i].second == 100;
            if (holds) {
                for (size_t i = at; i < at + n; ++i) {
                    auto &first = seen.seen[i].first == "p" ? first_of_failed_call_p
                                                            : first_of_failed_call_other;
                    first = std::min(first, seen.seen[i].second);
                }
                break;
            }
            at += n;
        }
        // Nothing was delivered twice: a thrown call is failed, not retried.
        std::set<std::pair<std::string, uint64_t>> uniq(seen.seen.begin(), seen.seen.end());
        EXPECT_EQ(uniq.size(), seen.seen.size());
        EXPECT_EQ(uniq.size(), 400u);
    }
    ASSERT_NE(first_of_failed_call_p, UINT64_MAX);
    // Each topic of the failed call resumes at its first record in it.
    for (auto [topic, first] : {std::pair<const char *, uint64_t>{"p", first_of_failed_call_p},
                                {"other", first_of_failed_call_other}}) {
        auto rest = resume(topic, "thrower");
        if (first == UINT64_MAX) {
            EXPECT_TRUE(rest.empty()) << topic;  // not in the failed call: all acknowledged
        } else {
            ASSERT_FALSE(rest.empty()) << topic;
            EXPECT_EQ(rest[0].offset, first) << topic;
            EXPECT_EQ(rest.size(), 200 - first) << topic;
        }
    }
}

int throwing_handler(void *ctx, const cq_message *m) {
    auto *s = static_cast<Seen *>(ctx);
    {
        std::lock_guard lock(s->mu);
        s->offsets.push_back(m->offset);
    }
    s->count.fetch_add(1);
    if (m->offset == s->fail_at) throw std::runtime_error("handler failed");
    return 0;
}

TEST_F(BrokerPush, ARecordHandlerThatThrowsFailsThatRecordAndTheRestOfItsJobRunsAgain) {
    for (int i = 0; i < 300; ++i) publish(b, "p", std::to_string(i));
    Seen seen;
    seen.fail_at = 100;
    cq_subscribe_options o = CQ_SUBSCRIBE_OPTIONS_INIT;
    o.pattern = "p";
    o.subscriber_id = "record-thrower";
    o.flags = CQ_SUB_DURABLE | CQ_SUB_EARLIEST;
    cq_subscription *s = nullptr;
    ASSERT_EQ(broker_subscribe_push(b, &o, pool, throwing_handler, &seen, &s), CQ_OK);
    wait_for(seen, 300);
    ASSERT_EQ(broker_unsubscribe(s), CQ_OK);
    {
        std::lock_guard lock(seen.mu);
        // Every record exactly once and in order: those after 100 in its job
        // did not run when it threw, and came again in the next job.
        ASSERT_EQ(seen.offsets.size(), 300u);
        for (size_t i = 0; i < 300; ++i) ASSERT_EQ(seen.offsets[i], i);
    }
    auto rest = resume("p", "record-thrower");
    ASSERT_EQ(rest.size(), 200u);
    EXPECT_EQ(rest[0].offset, 100u);
}

TEST_F(BrokerPush, DestroyingThePoolFirstStopsDeliveryAndClosingTheBrokerFirstIsRefused) {
    Seen seen;
    cq_subscribe_options o = CQ_SUBSCRIBE_OPTIONS_INIT;
    o.pattern = "early";
    cq_subscription *push = nullptr, *pull = nullptr;
    ASSERT_EQ(broker_subscribe_push(b, &o, pool, handler, &seen, &push), CQ_OK);
    ASSERT_EQ(broker_subscribe(b, "early", nullptr, 0, &pull), CQ_OK);
    publish(b, "early", "one");
    wait_for(seen, 1);
    // The owner destroys the pool while the subscription still submits to it:
    // the pool shuts down now and is freed when the subscription lets go
    // (ASan would see a use after free otherwise).
    pool_destroy(std::exchange(pool, nullptr));
    publish(b, "early", "two");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(seen.count.load(), 1u);
    // The broker refuses to close under open subscriptions, and stays usable.
    EXPECT_EQ(broker_close(b), CQ_EBUSY);
    EXPECT_NE(std::string(cq_last_error()).find("2 subscription"), std::string::npos)
        << cq_last_error();
    EXPECT_EQ(broker_unsubscribe(push), CQ_OK);
    EXPECT_EQ(broker_close(b), CQ_EBUSY);
    cq_message m;
    ASSERT_EQ(broker_poll(pull, &m, 1'000'000'000), CQ_OK);
    EXPECT_EQ(m.offset, 0u);
    EXPECT_EQ(broker_unsubscribe(pull), CQ_OK);
    EXPECT_EQ(broker_close(std::exchange(b, nullptr)), CQ_OK);
}

TEST_F(BrokerPush, PoolShutdownStopsDeliveryAndArgumentsAreChecked) {
    cq_subscribe_options o = CQ_SUBSCRIBE_OPTIONS_INIT;
    o.pattern = "q";
    cq_subscription *s = nullptr;
    Seen seen;
    EXPECT_EQ(broker_subscribe_push(b, &o, nullptr, handler, &seen, &s), CQ_EINVAL);
    EXPECT_EQ(broker_subscribe_push(b, &o, pool, nullptr, &seen, &s), CQ_EINVAL);
    EXPECT_EQ(broker_subscribe_push_batch(b, &o, pool, nullptr, &seen, &s), CQ_EINVAL);
    EXPECT_EQ(broker_subscribe_push_batch(b, &o, nullptr, batch_handler, &seen, &s), CQ_EINVAL);
    EXPECT_EQ(broker_subscribe_push_batch(b, nullptr, pool, batch_handler, &seen, &s), CQ_EINVAL);
    EXPECT_EQ(broker_subscribe_push_batch(b, &o, pool, batch_handler, &seen, nullptr), CQ_EINVAL);
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
}

}  // namespace
