// Producers and consumers as threads of one process (also run under TSan):
// every message delivered exactly once, in per-producer order per consumer.
#include <cqueue/cqueue.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/util/queue_util.hpp"
#include "tests/util/test_util.hpp"

namespace {

struct Param {
    const char *label;
    int producers, consumers;
    uint32_t batch;         // 1 = single calls
    bool blocking;          // consumers use cq_dequeue_wait
    uint32_t capacity;      // nodes: a tiny queue recycles each node every few operations
    uint64_t per_producer;  // messages, before CQ_TEST_SCALE
};

class Threads : public ::testing::TestWithParam<Param> {};

uint64_t scaled(uint64_t n) {
    const char *s = std::getenv("CQ_TEST_SCALE");  // smaller under sanitizers
    double scale = s ? std::atof(s) : 1.0;
    return std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(n) * scale));
}

TEST_P(Threads, ExactlyOnceInOrder) {
    const Param p = GetParam();
    const uint64_t n = scaled(p.per_producer);
    std::string name = cqtest::unique_name("thr");
    cq_queue *q = cqtest::create_queue(name, p.capacity, 16);
    ASSERT_NE(q, nullptr);

    std::atomic<int> producers_left{p.producers};
    std::atomic<bool> failed{false};
    // seen[producer][seq]: how many times it was delivered.
    std::vector<std::vector<std::atomic<uint8_t>>> seen(p.producers);
    for (auto &v : seen) v = std::vector<std::atomic<uint8_t>>(n);
    std::atomic<uint64_t> order_violations{0};

    std::vector<std::thread> threads;
    for (int id = 0; id < p.producers; ++id) {
        threads.emplace_back([&, id] {
            std::vector<uint64_t> msg(p.batch * 2);
            std::vector<cq_iov> iov(p.batch);
            for (uint64_t seq = 0; seq < n && !failed;) {
                uint32_t k = static_cast<uint32_t>(std::min<uint64_t>(p.batch, n - seq));
                for (uint32_t i = 0; i < k; ++i) {
                    msg[2 * i] = static_cast<uint64_t>(id);
                    msg[2 * i + 1] = seq + i;
                    iov[i] = cq_iov{&msg[2 * i], 16};
                }
                int r = k == 1 ? (cq_enqueue(q, &msg[0], 16) == CQ_OK ? 1 : CQ_EFULL)
                               : cq_enqueue_batch(q, iov.data(), k);
                if (r > 0)
                    seq += static_cast<uint64_t>(r);
                else if (r == CQ_EFULL)
                    std::this_thread::yield();
                else
                    failed = true;
            }
            producers_left--;
        });
    }
    for (int c = 0; c < p.consumers; ++c) {
        threads.emplace_back([&] {
            std::vector<uint64_t> last(p.producers, UINT64_MAX);
            std::vector<uint64_t> buf(p.batch * 2);
            std::vector<cq_rbuf> bufs(p.batch);
            for (uint32_t i = 0; i < p.batch; ++i) bufs[i] = cq_rbuf{&buf[2 * i], 16, 0};
            // Records message i of buf; false if it is not one we sent.
            auto record = [&](int i) {
                uint64_t id = buf[2 * i], seq = buf[2 * i + 1];
                if (id >= static_cast<uint64_t>(p.producers) || seq >= n) return false;
                seen[id][seq].fetch_add(1, std::memory_order_relaxed);
                if (last[id] != UINT64_MAX && seq <= last[id]) order_violations++;
                last[id] = seq;
                return true;
            };
            for (;;) {
                int r;
                if (p.batch > 1)
                    r = cq_dequeue_batch(q, bufs.data(), p.batch);
                else {
                    size_t len;
                    r = p.blocking ? cq_dequeue_wait(q, buf.data(), 16, &len, 1'000'000)
                                   : cq_dequeue(q, buf.data(), 16, &len);
                    r = r == CQ_OK ? 1 : r;
                }
                if (r == CQ_EEMPTY || r == CQ_ETIMEDOUT) {
                    if (producers_left != 0) {
                        if (!p.blocking) std::this_thread::yield();
                        continue;
                    }
                    // Producers are done; one more look, then stop.
                    size_t len;
                    r = cq_dequeue(q, buf.data(), 16, &len);
                    if (r == CQ_EEMPTY) return;
                    r = r == CQ_OK ? 1 : r;
                }
                if (r <= 0) {
                    failed = true;
                    return;
                }
                for (int i = 0; i < r; ++i)
                    if (!record(i)) {
                        failed = true;
                        return;
                    }
            }
        });
    }
    for (auto &t : threads) t.join();
    EXPECT_FALSE(failed) << cq_last_error();
    uint64_t missing = 0, dup = 0;
    for (auto &v : seen)
        for (auto &c : v) {
            uint8_t k = c.load();
            missing += k == 0;
            dup += k > 1;
        }
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(dup, 0u);
    EXPECT_EQ(order_violations.load(), 0u);
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    ASSERT_EQ(cq_stats(q, &st), CQ_OK);
    EXPECT_EQ(st.length, 0u);
    EXPECT_EQ(st.free_nodes, p.capacity);
    EXPECT_EQ(st.enqueued, n * p.producers);
    EXPECT_EQ(st.dequeued, n * p.producers);
    cq_close(q);
    cq_unlink(name.c_str());
}

// Recoveries racing each other and the operations of the threads that start
// them. A losing reaper once wrote itself into gate_holder before its CAS
// failed; its thread's next operation then saw "its own" lane holding the
// winner's gate and broke it, and the winner, scanning a queue that ran
// again, took what it saw in flight for damage and marked a sound queue
// corrupt. A recovery whose gate was broken must give up (CQ_EBUSY), never
// report damage.
TEST(ThreadsRecovery, ConcurrentRecoveriesNeverCorruptASoundQueue) {
    constexpr int kThreads = 4;
    // Big enough that a scan takes a while: the breaking operation has to
    // land inside one (how often it did before the fix, and the command:
    // the note of 2026-11-24).
    constexpr uint32_t kCapacity = 65536;
    const uint64_t rounds = scaled(1'000);
    std::string name = cqtest::unique_name("rcv");
    cq_queue *q = cqtest::create_queue(name, kCapacity, 16);
    ASSERT_NE(q, nullptr);
    std::atomic<int> bad{0};
    std::mutex why_mu;
    std::string why;  // the first failure's cq_last_error (thread-local there)
    std::atomic<uint64_t> recovered{0}, busy{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            auto failed = [&](int r, const char *what) {
                std::lock_guard lock(why_mu);
                if (!bad.exchange(r)) why = std::string(what) + ": " + cq_last_error();
            };
            uint64_t msg[2] = {static_cast<uint64_t>(t), 0};
            for (uint64_t i = 0; i < rounds && !bad; ++i) {
                msg[1] = i;
                int r = cq_enqueue(q, msg, sizeof msg);
                if (r != CQ_OK && r != CQ_EFULL) failed(r, "cq_enqueue");
                uint64_t in[2];
                size_t len;
                r = cq_dequeue(q, in, sizeof in, &len);
                if (r != CQ_OK && r != CQ_EEMPTY) failed(r, "cq_dequeue");
                r = cq_recover(q, nullptr);
                if (r == CQ_OK)
                    recovered++;
                else if (r == CQ_EBUSY)
                    busy++;
                else
                    failed(r, "cq_recover");
            }
        });
    }
    for (auto &th : threads) th.join();
    EXPECT_EQ(bad.load(), 0) << cq_strerror(bad.load()) << " from " << why;
    EXPECT_GT(recovered.load(), 0u);
    std::printf("recoveries: %llu completed, %llu busy\n",
                static_cast<unsigned long long>(recovered.load()),
                static_cast<unsigned long long>(busy.load()));
    uint64_t in[2];
    size_t len;
    while (cq_dequeue(q, in, sizeof in, &len) == CQ_OK) {
    }
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    ASSERT_EQ(cq_stats(q, &st), CQ_OK);
    EXPECT_EQ(st.length, 0u);
    EXPECT_EQ(st.free_nodes, kCapacity);
    cq_close(q);
    cq_unlink(name.c_str());
}

INSTANTIATE_TEST_SUITE_P(Queue, Threads,
                         ::testing::Values(Param{"p4c4", 4, 4, 1, false, 1024, 200'000},
                                           Param{"p4c4_wait", 4, 4, 1, true, 1024, 200'000},
                                           Param{"p4c4_batch", 4, 4, 16, false, 1024, 200'000},
                                           Param{"p1c1", 1, 1, 1, true, 1024, 200'000},
                                           // Head, tail and free list meet on the same
                                           // few nodes all the time: the interleavings
                                           // where a node is dequeued, freed and linked
                                           // again between two reads of one operation.
                                           Param{"p2c2_cap2", 2, 2, 1, false, 2, 400'000},
                                           Param{"p4c4_cap3", 4, 4, 1, false, 3, 200'000}),
                         [](const auto &info) { return std::string(info.param.label); });

}  // namespace
