// Shutdown: under load at random deadlines the accounting identity holds in
// every run; past the deadline queued jobs are cancelled (cleanups run);
// pool_destroy without pool_shutdown cancels what is queued and joins.
#include <cqueue/cqueue.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "tests/pool/pool_util.hpp"

namespace {

TEST(PoolShutdown, PastTheDeadlineQueuedJobsAreCancelled) {
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = 1;
    o.queue_capacity = 128;
    cq_pool *p = nullptr;
    ASSERT_EQ(pool_create(&o, &p), CQ_OK);
    pooltest::Gate gate;
    gate.block_worker(p);
    pooltest::Outcomes out(100);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out.submit(p, i), CQ_OK);
    std::thread opener([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        gate.open();
    });
    EXPECT_EQ(pool_shutdown(p, 10'000'000), CQ_ETIMEDOUT);
    opener.join();
    EXPECT_EQ(out.count(CQ_ECANCELED), out.size());
    EXPECT_TRUE(out.each_exactly_once());
    pooltest::expect_identity(p, out.size() + 1);
    EXPECT_EQ(pool_submit(
                  p, [](void *) {}, nullptr),
              CQ_ECLOSED);
    pool_destroy(p);
}

TEST(PoolShutdown, DestroyWithoutShutdownCancelsQueuedJobs) {
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = 1;
    o.queue_capacity = 128;
    cq_pool *p = nullptr;
    ASSERT_EQ(pool_create(&o, &p), CQ_OK);
    auto gate = std::make_unique<pooltest::Gate>();
    gate->block_worker(p);
    pooltest::Outcomes out(50);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out.submit(p, i), CQ_OK);
    std::thread opener([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        gate->open();
    });
    pool_destroy(p);  // waits for the running gate job, cancels the rest
    opener.join();
    EXPECT_EQ(out.count(CQ_ECANCELED), out.size());
    EXPECT_TRUE(out.each_exactly_once());
}

TEST(PoolShutdown, UnderLoadAtRandomDeadlines) {
    const uint64_t seed = cqtest::seed_for("PoolShutdown.UnderLoadAtRandomDeadlines");
    std::mt19937_64 rng(seed);
    const int rounds = std::max(3, static_cast<int>(30 * pooltest::scale()));
    for (int round = 0; round < rounds; ++round) {
        cq_pool_options o = CQ_POOL_OPTIONS_INIT;
        o.workers = 1 + static_cast<uint32_t>(rng() % 3);
        o.queue_capacity = 1u << (rng() % 10);
        o.segment_size = 1u << (rng() % 4);
        if (o.segment_size > o.queue_capacity) o.segment_size = o.queue_capacity;
        o.max_batch = 1 + static_cast<uint32_t>(rng() % 64);
        cq_pool *p = nullptr;
        ASSERT_EQ(pool_create(&o, &p), CQ_OK) << cq_last_error();
        const size_t per = 20000;
        const int producers = 2;
        pooltest::Outcomes out(per * producers);
        std::atomic<uint64_t> accepted{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < producers; ++t)
            threads.emplace_back([&, t, s = rng()] {
                std::mt19937_64 r(s);
                for (size_t i = 0; i < per; ++i) {
                    size_t id = static_cast<size_t>(t) * per + i;
                    // Some jobs sleep (1..20 us), some fail, some expire soon.
                    pooltest::Kind kind =
                        r() % 50 == 0 ? pooltest::Kind::throws : pooltest::Kind::plain;
                    int64_t deadline = 0;
                    if (r() % 10 == 0) {
                        timespec ts;
                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        deadline = ts.tv_sec * 1'000'000'000LL + ts.tv_nsec +
                                   static_cast<int64_t>(r() % 200'000);
                    }
                    cq_job j = out.job(id, kind, nullptr, deadline);
                    int rc;
                    while ((rc = pool_submit_ex(p, &j)) == CQ_EFULL) std::this_thread::yield();
                    if (rc == CQ_ECLOSED) return;
                    if (rc != CQ_OK) {
                        ADD_FAILURE() << "submit: " << rc;
                        return;
                    }
                    accepted++;
                }
            });
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 5000));
        const int64_t timeout = static_cast<int64_t>(rng() % 3'000'000);
        int rc = pool_shutdown(p, timeout);
        EXPECT_TRUE(rc == CQ_OK || rc == CQ_ETIMEDOUT) << rc;
        for (auto &t : threads) t.join();
        cq_pool_stats st = CQ_POOL_STATS_INIT;
        ASSERT_EQ(pool_stats(p, &st), CQ_OK);
        EXPECT_EQ(st.submitted, accepted.load()) << "round " << round;
        EXPECT_EQ(st.submitted, st.completed + st.cancelled + st.expired + st.failed)
            << "round " << round;
        // Every accepted job's cleanup ran exactly once, the others' never.
        uint64_t cleanups = 0;
        for (size_t i = 0; i < out.size(); ++i) {
            EXPECT_LE(out.calls(i), 1u);
            cleanups += out.calls(i);
        }
        EXPECT_EQ(cleanups, accepted.load()) << "round " << round;
        pool_destroy(p);
    }
}

}  // namespace
