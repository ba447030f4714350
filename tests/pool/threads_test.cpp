// Many producer threads, several workers (also run under TSan): every job
// runs exactly once; one worker runs each producer's jobs in submit order.
#include <cqueue/cqueue.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/pool/pool_util.hpp"

namespace {

struct Param {
    const char *label;
    int producers;
    uint32_t workers, capacity, segment, batch;  // batch: jobs per pool_submit_batch (1 = single)
};

class PoolThreads : public ::testing::TestWithParam<Param> {};

struct Counts {
    std::unique_ptr<std::atomic<uint8_t>[]> seen;
    static void job(void *arg) {
        // arg encodes the job's index; the array is the test's.
        auto i = reinterpret_cast<uintptr_t>(arg);
        instance->seen[i].fetch_add(1, std::memory_order_relaxed);
    }
    static inline Counts *instance = nullptr;
};

TEST_P(PoolThreads, ExactlyOnce) {
    const Param prm = GetParam();
    const uint64_t per = static_cast<uint64_t>(1'000'000 * pooltest::scale()) / prm.producers;
    const uint64_t total = per * static_cast<uint64_t>(prm.producers);
    Counts c;
    c.seen.reset(new std::atomic<uint8_t>[total]);
    for (uint64_t i = 0; i < total; ++i) c.seen[i].store(0, std::memory_order_relaxed);
    Counts::instance = &c;
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = prm.workers;
    o.queue_capacity = prm.capacity;
    o.segment_size = prm.segment;
    cq_pool *p = nullptr;
    ASSERT_EQ(pool_create(&o, &p), CQ_OK) << cq_last_error();
    std::atomic<bool> failed{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < prm.producers; ++t)
        threads.emplace_back([&, t] {
            std::vector<cq_job> jobs(prm.batch);
            for (uint64_t k = 0; k < per && !failed;) {
                uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(prm.batch, per - k));
                int r;
                if (prm.batch == 1) {
                    r = pool_submit(p, Counts::job,
                                    reinterpret_cast<void *>(static_cast<uintptr_t>(t * per + k)));
                    r = r == CQ_OK ? 1 : r;
                } else {
                    for (uint32_t i = 0; i < n; ++i) {
                        jobs[i] = cq_job CQ_JOB_INIT;
                        jobs[i].fn = Counts::job;
                        jobs[i].arg =
                            reinterpret_cast<void *>(static_cast<uintptr_t>(t * per + k + i));
                    }
                    r = pool_submit_batch(p, jobs.data(), n);
                }
                if (r > 0)
                    k += static_cast<uint64_t>(r);
                else if (r == CQ_EFULL)
                    std::this_thread::yield();
                else
                    failed = true;
            }
        });
    for (auto &t : threads) t.join();
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    EXPECT_FALSE(failed) << cq_last_error();
    uint64_t missing = 0, dup = 0;
    for (uint64_t i = 0; i < total; ++i) {
        uint8_t k = c.seen[i].load();
        missing += k == 0;
        dup += k > 1;
    }
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(dup, 0u);
    pooltest::expect_identity(p, total);
    pool_destroy(p);
    Counts::instance = nullptr;
}

INSTANTIATE_TEST_SUITE_P(Pool, PoolThreads,
                         ::testing::Values(Param{"p4w2", 4, 2, 1024, 64, 1},
                                           Param{"p4w4_seg1", 4, 4, 16, 1, 1},
                                           Param{"p2w3_batch", 2, 3, 4096, 256, 32},
                                           Param{"p3w2_seg1_batch", 3, 2, 64, 1, 8},
                                           Param{"p1w1", 1, 1, 256, 16, 1}),
                         [](const auto &info) { return std::string(info.param.label); });

// One worker: each producer's jobs run in the order it submitted them.
struct OrderCheck {
    static constexpr int kProducers = 4;
    uint64_t last[kProducers];
    std::atomic<uint64_t> violations{0};
    static inline OrderCheck *instance = nullptr;
    static void job(void *arg) {
        auto v = reinterpret_cast<uintptr_t>(arg);
        auto prod = v >> 40, seq = v & ((uint64_t{1} << 40) - 1);
        OrderCheck *o = instance;  // only the single worker touches last[]
        if (o->last[prod] != UINT64_MAX && seq <= o->last[prod]) o->violations++;
        o->last[prod] = seq;
    }
};

TEST(PoolOrder, PerProducerFifoAtOnePriority) {
    OrderCheck oc;
    for (auto &l : oc.last) l = UINT64_MAX;
    OrderCheck::instance = &oc;
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = 1;
    o.queue_capacity = 256;
    o.segment_size = 8;
    cq_pool *p = nullptr;
    ASSERT_EQ(pool_create(&o, &p), CQ_OK);
    const uint64_t per = static_cast<uint64_t>(200'000 * pooltest::scale());
    std::vector<std::thread> threads;
    for (uint64_t t = 0; t < OrderCheck::kProducers; ++t)
        threads.emplace_back([&, t] {
            for (uint64_t k = 0; k < per;) {
                int r = pool_submit(p, OrderCheck::job,
                                    reinterpret_cast<void *>(static_cast<uintptr_t>(t << 40 | k)));
                if (r == CQ_OK)
                    ++k;
                else
                    std::this_thread::yield();
            }
        });
    for (auto &t : threads) t.join();
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    EXPECT_EQ(oc.violations.load(), 0u);
    for (auto l : oc.last) EXPECT_EQ(l, per - 1);
    pooltest::expect_identity(p, per * OrderCheck::kProducers);
    pool_destroy(p);
}

}  // namespace
