// Crash torture: hundreds of SIGKILLs at random moments on producer and
// consumer processes. Afterwards: nothing delivered twice, per-producer order
// kept, at most one message lost per consumer kill, and after recovery every
// node is either queued or free. The variant with recovery switched off must
// show the leak: proof that the check can fail.
#include <cqueue/cqueue.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "tests/queue/delivery.hpp"
#include "tests/queue/procs.hpp"
#include "tests/util/queue_util.hpp"
#include "tests/util/test_util.hpp"

namespace {

struct Param {
    const char *label;
    bool recovery;
    int batch;
};

class Crash : public ::testing::TestWithParam<Param> {};

// Without recovery, keep killing until some nodes are certainly gone: fewer
// free + queued than capacity minus what live workers may hold right now.
bool leak_visible(cq_queue *q, uint32_t capacity, int batch) {
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    if (cq_stats(q, &st) != CQ_OK) return false;
    return st.free_nodes + st.length + 4u * static_cast<uint32_t>(batch) + 4 < capacity;
}

constexpr uint32_t kSize = 16384;

int kills_wanted() {
    const char *s = std::getenv("CQ_TORTURE_KILLS");
    return s ? std::atoi(s) : 300;
}

TEST_P(Crash, RandomSigkillsOfProducersAndConsumers) {
    const Param p = GetParam();
    const uint64_t seed = cqtest::seed_for(std::string("Crash/") + p.label);
    std::mt19937_64 rng(seed);
    const uint32_t capacity = 128;
    std::string name = cqtest::unique_name("crash");
    // CQ_NO_RECOVER: the test's own handle stays passive. Large messages keep
    // workers inside operations (copying) for a good share of the time, so
    // that many kills land mid-operation.
    cq_queue *q = cqtest::create_queue(name, capacity, kSize, CQ_NO_RECOVER);
    ASSERT_NE(q, nullptr);
    cqtest::TempDir dir;
    std::vector<std::string> extra;
    extra.insert(extra.end(), {"--size", std::to_string(kSize)});
    if (!p.recovery) extra.push_back("--norecover");
    if (p.batch > 1) extra.insert(extra.end(), {"--batch", std::to_string(p.batch)});

    int consumer_kills = 0, producer_kills = 0, kills_at_work = 0;
    {
        cqtest::Workers w(name, dir, extra);
        w.add_producer();
        w.add_producer();
        w.add_consumer();
        w.add_consumer();
        const int kills = kills_wanted();
        for (int k = 0;
             k < kills || (!p.recovery && !leak_visible(q, capacity, p.batch) && k < 10 * kills);
             ++k) {
            std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 3000));
            size_t victim = rng() % w.all().size();
            // Kill a worker at work: one that has completed an operation
            // since it started. A start under ASan or TSan can take longer
            // than the pause above, and a run whose kills all hit starting
            // workers has nothing to recover (seen under ASan with ctest
            // -j2). Bounded: a consumer of a queue whose producers are all
            // starting may wait a while. Without recovery the queue leaks
            // dry and workers stop making progress for good; that variant
            // kills on until the leak shows.
            if (p.recovery && w.progress(victim) == 0) {
                cqtest::wait_until([&] { return w.progress(victim) > 0; }, 2000);
                std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1000));
            }
            if (w.progress(victim) > 0) ++kills_at_work;
            (w.all()[victim].producer ? producer_kills : consumer_kills)++;
            w.kill_and_restart(victim);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        w.stop_all();
        for (int st : w.statuses())
            EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "worker status " << st;

        auto d = cqtest::check_delivery(w.outputs());
        const uint64_t lost = d.lost([&](uint32_t s, uint32_t i) { return w.sent(s, i); });
        std::printf(
            "[ torture  ] kills: %d producers, %d consumers (%d of them at work); "
            "received %llu; lost %llu\n",
            producer_kills, consumer_kills, kills_at_work,
            static_cast<unsigned long long>(d.received), static_cast<unsigned long long>(lost));
        EXPECT_GT(d.received, 0u);
        EXPECT_EQ(d.duplicates, 0u);
        EXPECT_EQ(d.order_violations, 0u);
        // A killed consumer loses at most what its last dequeue call took.
        EXPECT_LE(lost, static_cast<uint64_t>(consumer_kills) * p.batch);
    }

    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    if (p.recovery) {
        uint64_t reclaimed = 0;
        ASSERT_EQ(cq_recover(q, &reclaimed), CQ_OK) << cq_last_error();
        ASSERT_EQ(cq_stats(q, &st), CQ_OK);
        std::printf("[ torture  ] recovered %llu nodes in all (%llu in the final pass)\n",
                    static_cast<unsigned long long>(st.reclaimed),
                    static_cast<unsigned long long>(reclaimed));
        EXPECT_EQ(st.free_nodes + st.length, capacity);
        EXPECT_EQ(st.length, 0u);  // the consumers drained it
        EXPECT_EQ(st.lanes_dead, 0u);
        // Hundreds of kills of workers copying 16 KiB messages land
        // mid-operation many times: recovery must have had work to do.
        EXPECT_GT(st.reclaimed, 0u);
    } else {
        ASSERT_EQ(cq_stats(q, &st), CQ_OK);
        std::printf("[ torture  ] without recovery: %llu free + %llu queued of %u\n",
                    static_cast<unsigned long long>(st.free_nodes),
                    static_cast<unsigned long long>(st.length), capacity);
        EXPECT_EQ(st.reclaimed, 0u);
        EXPECT_LT(st.free_nodes + st.length, capacity) << "the kills should have leaked nodes";
        // And recovery now finds exactly what was leaked.
        uint64_t reclaimed = 0;
        ASSERT_EQ(cq_recover(q, &reclaimed), CQ_OK) << cq_last_error();
        EXPECT_EQ(reclaimed, capacity - st.free_nodes - st.length);
        ASSERT_EQ(cq_stats(q, &st), CQ_OK);
        EXPECT_EQ(st.free_nodes + st.length, capacity);
    }
    cq_close(q);
    cq_unlink(name.c_str());
}

INSTANTIATE_TEST_SUITE_P(Queue, Crash,
                         ::testing::Values(Param{"recovery", true, 1},
                                           Param{"recovery_batch8", true, 8},
                                           Param{"no_recovery_shows_leak", false, 8}),
                         [](const auto &info) { return std::string(info.param.label); });

}  // namespace
