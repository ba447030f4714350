// The pool's C API one function at a time: argument checks, cleanups and
// their statuses, cancellation, deadlines, priorities and their starvation
// bound, batches, blocking submit, hooks, affinity, metrics, wake-ups.
#include <cqueue/cqueue.h>
#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/pool/pool_util.hpp"
#include "tests/util/test_util.hpp"

namespace {

using pooltest::Gate;
using pooltest::Outcomes;

cq_pool *make_pool(uint32_t workers, uint32_t capacity, uint32_t segment = 256,
                   uint32_t max_batch = 64, uint32_t fairness = 16) {
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = workers;
    o.queue_capacity = capacity;
    o.segment_size = segment < capacity ? segment : capacity;
    o.max_batch = max_batch;
    o.fairness = fairness;
    cq_pool *p = nullptr;
    EXPECT_EQ(pool_create(&o, &p), CQ_OK) << cq_last_error();
    return p;
}

void noop(void *) {}

TEST(PoolArgs, RejectedWithCodeAndText) {
    cq_pool *p = nullptr;
    EXPECT_EQ(pool_create(nullptr, nullptr), CQ_EINVAL);
    EXPECT_STRNE(cq_last_error(), "");
    cq_pool_options o;
    cq_pool_options_init(&o);
    o.struct_size = 4;
    EXPECT_EQ(pool_create(&o, &p), CQ_EINVAL);
    EXPECT_NE(std::strstr(cq_last_error(), "struct_size"), nullptr) << cq_last_error();
    cq_pool_options_init(&o);
    o.queue_capacity = 0;
    EXPECT_EQ(pool_create(&o, &p), CQ_EINVAL);
    EXPECT_NE(std::strstr(cq_last_error(), "queue_capacity"), nullptr);
    cq_pool_options_init(&o);
    o.segment_size = 0;
    EXPECT_EQ(pool_create(&o, &p), CQ_EINVAL);
    EXPECT_NE(std::strstr(cq_last_error(), "segment_size"), nullptr);
    cq_pool_options_init(&o);
    o.max_batch = 0;
    EXPECT_EQ(pool_create(&o, &p), CQ_EINVAL);
    cq_pool_options_init(&o);
    o.workers = CQ_POOL_MAX_WORKERS + 1;
    EXPECT_EQ(pool_create(&o, &p), CQ_EINVAL);
    cq_pool_options_init(&o);
    o.metrics = [](void *, const cq_pool_stats *) {};
    EXPECT_EQ(pool_create(&o, &p), CQ_EINVAL);
    cq_pool_options_init(&o);
    uint32_t cpu = 1u << 20;
    o.cpu_affinity = &cpu;
    o.cpu_affinity_count = 1;
    EXPECT_EQ(pool_create(&o, &p), CQ_EINVAL);
    EXPECT_EQ(p, nullptr);

    EXPECT_EQ(pool_submit(nullptr, noop, nullptr), CQ_EINVAL);
    EXPECT_EQ(pool_submit_ex(nullptr, nullptr), CQ_EINVAL);
    EXPECT_EQ(pool_shutdown(nullptr, 0), CQ_EINVAL);
    EXPECT_EQ(pool_stats(nullptr, nullptr), CQ_EINVAL);
    EXPECT_EQ(pool_attach_queue(nullptr, nullptr, nullptr, nullptr), CQ_EINVAL);
    EXPECT_EQ(pool_job_fail(), CQ_EPERM);
    EXPECT_EQ(pool_cancel_token_create(nullptr), CQ_EINVAL);
    EXPECT_EQ(pool_cancel_token_cancel(nullptr), CQ_EINVAL);
    EXPECT_EQ(pool_cancel_token_is_cancelled(nullptr), CQ_EINVAL);
    pool_cancel_token_destroy(nullptr);
    pool_destroy(nullptr);

    p = make_pool(1, 16);
    EXPECT_EQ(pool_submit(p, nullptr, nullptr), CQ_EINVAL);
    cq_job j = CQ_JOB_INIT;
    EXPECT_EQ(pool_submit_ex(p, &j), CQ_EINVAL);  // fn NULL
    j.fn = noop;
    j.priority = CQ_PRIORITY_LEVELS;
    EXPECT_EQ(pool_submit_ex(p, &j), CQ_EINVAL);
    EXPECT_NE(std::strstr(cq_last_error(), "priority"), nullptr);
    j.priority = CQ_PRIORITY_NORMAL;
    j.struct_size = 8;
    EXPECT_EQ(pool_submit_ex(p, &j), CQ_EINVAL);
    j.struct_size = sizeof j;
    EXPECT_EQ(pool_submit_batch(p, &j, 0), CQ_EINVAL);
    EXPECT_EQ(pool_submit_batch(p, nullptr, 1), CQ_EINVAL);
    cq_job two[2] = {j, j};
    two[1].fn = nullptr;
    EXPECT_EQ(pool_submit_batch(p, two, 2), CQ_EINVAL);  // nothing accepted
    EXPECT_NE(std::strstr(cq_last_error(), "jobs[1]"), nullptr) << cq_last_error();
    cq_pool_stats st = CQ_POOL_STATS_INIT;
    st.struct_size = 8;
    EXPECT_EQ(pool_stats(p, &st), CQ_EINVAL);
    EXPECT_EQ(pool_attach_queue(p, nullptr, nullptr, nullptr), CQ_EINVAL);
    EXPECT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    st = CQ_POOL_STATS_INIT;
    ASSERT_EQ(pool_stats(p, &st), CQ_OK);
    EXPECT_EQ(st.submitted, 0u);
    pool_destroy(p);
}

TEST(Pool, RunsEveryJobAndAccounts) {
    cq_pool *p = make_pool(2, 1024);
    Outcomes out(10000);
    for (size_t i = 0; i < out.size(); ++i) {
        int r;
        while ((r = out.submit(p, i)) == CQ_EFULL) std::this_thread::yield();
        ASSERT_EQ(r, CQ_OK);
    }
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    EXPECT_EQ(out.count(CQ_OK), out.size());
    EXPECT_TRUE(out.each_exactly_once());
    pooltest::expect_identity(p, out.size());
    EXPECT_EQ(pool_submit(p, noop, nullptr), CQ_ECLOSED);
    EXPECT_STRNE(cq_last_error(), "");
    EXPECT_EQ(pool_shutdown(p, 0), CQ_OK);  // second call
    pool_destroy(p);
}

TEST(Pool, FullPastCapacity) {
    cq_pool *p = make_pool(1, 4, 1);
    Gate gate;
    gate.block_worker(p);
    int ok = 0;
    while (pool_submit(p, noop, nullptr) == CQ_OK) ++ok;
    EXPECT_EQ(ok, 4);
    EXPECT_EQ(pool_submit(p, noop, nullptr), CQ_EFULL);
    cq_job j = CQ_JOB_INIT;
    j.fn = noop;
    EXPECT_EQ(pool_submit_wait(p, &j, 0), CQ_ETIMEDOUT);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(pool_submit_wait(p, &j, 20'000'000), CQ_ETIMEDOUT);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(19));
    // A blocked submitter goes on once a worker frees room.
    std::thread opener([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        gate.open();
    });
    EXPECT_EQ(pool_submit_wait(p, &j, CQ_WAIT_FOREVER), CQ_OK);
    opener.join();
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    pooltest::expect_identity(p, 1 + 4 + 1);
    pool_destroy(p);
}

TEST(Pool, BlockedSubmitterGetsClosed) {
    cq_pool *p = make_pool(1, 1, 1);
    Gate gate;
    gate.block_worker(p);
    ASSERT_EQ(pool_submit(p, noop, nullptr), CQ_OK);
    cq_job j = CQ_JOB_INIT;
    j.fn = noop;
    std::atomic<int> r{1};
    std::thread t([&] { r = pool_submit_wait(p, &j, CQ_WAIT_FOREVER); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::thread closer([&] { pool_shutdown(p, CQ_WAIT_FOREVER); });
    t.join();
    EXPECT_EQ(r.load(), CQ_ECLOSED);
    gate.open();
    closer.join();
    pooltest::expect_identity(p, 2);
    pool_destroy(p);
}

// Blocked submitters are woken only by the take that frees a segment's last
// slot (docs/pool.md). Tiny queues with takes that end mid-segment: every
// pool_submit_wait must be woken by room, never need its timeout.
TEST(Pool, BlockedSubmittersAreWokenWhenASegmentFrees) {
    struct Shape {
        uint32_t workers, capacity, segment, max_batch;
    };
    for (Shape s : {Shape{1, 8, 4, 1}, Shape{1, 8, 4, 3}, Shape{2, 4, 2, 1}, Shape{2, 16, 8, 5},
                    Shape{1, 1, 1, 1}}) {
        SCOPED_TRACE(::testing::Message() << "workers " << s.workers << " capacity " << s.capacity
                                          << " segment " << s.segment << " batch " << s.max_batch);
        cq_pool *p = make_pool(s.workers, s.capacity, s.segment, s.max_batch);
        ASSERT_NE(p, nullptr);
        static std::atomic<uint64_t> ran;
        ran = 0;
        cq_job j = CQ_JOB_INIT;
        j.fn = [](void *) {
            std::this_thread::sleep_for(std::chrono::microseconds(20));
            ran.fetch_add(1);
        };
        constexpr int kJobs = 2000, kSubmitters = 2;
        std::atomic<int> bad{0};
        std::vector<std::thread> ts;
        for (int t = 0; t < kSubmitters; ++t)
            ts.emplace_back([&] {
                // 10 s: far beyond any honest wait; a lost wake-up shows as
                // CQ_ETIMEDOUT here instead of a hung test.
                for (int i = 0; i < kJobs; ++i)
                    if (pool_submit_wait(p, &j, 10'000'000'000) != CQ_OK) {
                        bad.fetch_add(1);
                        return;
                    }
            });
        for (auto &t : ts) t.join();
        EXPECT_EQ(bad.load(), 0) << cq_last_error();
        ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
        if (bad.load() == 0) {
            EXPECT_EQ(ran.load(), uint64_t{kJobs} * kSubmitters);
            pooltest::expect_identity(p, uint64_t{kJobs} * kSubmitters);
        }
        pool_destroy(p);
    }
}

TEST(Pool, CleanupStatuses) {
    cq_pool *p = make_pool(1, 64);
    Outcomes out(6);
    cq_cancel_token *tok = nullptr;
    ASSERT_EQ(pool_cancel_token_create(&tok), CQ_OK);
    EXPECT_EQ(pool_cancel_token_is_cancelled(tok), 0);
    ASSERT_EQ(pool_cancel_token_cancel(tok), CQ_OK);
    EXPECT_EQ(pool_cancel_token_is_cancelled(tok), 1);
    Gate gate;
    gate.block_worker(p);
    ASSERT_EQ(out.submit(p, 0), CQ_OK);                                     // runs
    ASSERT_EQ(out.submit(p, 1, pooltest::Kind::plain, tok), CQ_OK);         // cancelled
    pool_cancel_token_destroy(tok);                                         // jobs keep it alive
    ASSERT_EQ(out.submit(p, 2, pooltest::Kind::plain, nullptr, 1), CQ_OK);  // expired
    ASSERT_EQ(out.submit(p, 3, pooltest::Kind::throws), CQ_OK);             // failed
    ASSERT_EQ(out.submit(p, 4, pooltest::Kind::marks_failed), CQ_OK);       // failed
    ASSERT_EQ(out.submit(p, 5, pooltest::Kind::plain, nullptr, INT64_MAX), CQ_OK);  // runs
    gate.open();
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    EXPECT_EQ(out.status(0), CQ_OK);
    EXPECT_EQ(out.status(1), CQ_ECANCELED);
    EXPECT_EQ(out.status(2), CQ_ETIMEDOUT);
    EXPECT_EQ(out.status(3), CQ_EIO);
    EXPECT_EQ(out.status(4), CQ_EIO);
    EXPECT_EQ(out.status(5), CQ_OK);
    EXPECT_EQ(out.ran(1) + out.ran(2), 0u);
    EXPECT_TRUE(out.each_exactly_once());
    cq_pool_stats st = CQ_POOL_STATS_INIT;
    ASSERT_EQ(pool_stats(p, &st), CQ_OK);
    EXPECT_EQ(st.completed, 3u);  // the gate job too
    EXPECT_EQ(st.cancelled, 1u);
    EXPECT_EQ(st.expired, 1u);
    EXPECT_EQ(st.failed, 2u);
    pooltest::expect_identity(p, 7);
    pool_destroy(p);
}

TEST(Pool, CancelAfterSubmitBeforeStart) {
    cq_pool *p = make_pool(1, 64);
    Outcomes out(10);
    cq_cancel_token *tok = nullptr;
    ASSERT_EQ(pool_cancel_token_create(&tok), CQ_OK);
    Gate gate;
    gate.block_worker(p);
    for (size_t i = 0; i < 10; ++i)
        ASSERT_EQ(out.submit(p, i, pooltest::Kind::plain, i % 2 ? tok : nullptr), CQ_OK);
    pool_cancel_token_cancel(tok);
    pool_cancel_token_destroy(tok);
    gate.open();
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    for (size_t i = 0; i < 10; ++i) EXPECT_EQ(out.status(i), i % 2 ? CQ_ECANCELED : CQ_OK);
    pooltest::expect_identity(p, 11);
    pool_destroy(p);
}

// Order in which jobs ran, recorded by a single worker.
struct Order {
    std::mutex mu;
    std::vector<int> seen;
    static void job(void *arg);
};
struct OrderArg {
    Order *o;
    int id;
};
void Order::job(void *arg) {
    auto *a = static_cast<OrderArg *>(arg);
    std::lock_guard lk(a->o->mu);
    a->o->seen.push_back(a->id);
}

TEST(Pool, HigherPriorityFirst) {
    cq_pool *p = make_pool(1, 64, 256, 64, 65536);
    Gate gate;
    gate.block_worker(p);
    Order order;
    std::vector<OrderArg> args;
    args.reserve(30);
    for (int i = 0; i < 30; ++i) args.push_back({&order, i});
    for (int i = 0; i < 30; ++i) {
        cq_job j = CQ_JOB_INIT;
        j.fn = Order::job;
        j.arg = &args[i];
        j.priority = static_cast<uint32_t>(i % 3);  // 0 low, 1 normal, 2 high
        ASSERT_EQ(pool_submit_ex(p, &j), CQ_OK);
    }
    gate.open();
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    ASSERT_EQ(order.seen.size(), 30u);
    for (int i = 0; i < 30; ++i) EXPECT_EQ(2 - order.seen[i] % 3, i / 10) << "position " << i;
    pool_destroy(p);
}

TEST(Pool, LowPriorityNotStarved) {
    // fairness 4, batches of 1: a low job waits at most 4 * 3 batches.
    const uint32_t fairness = 4;
    cq_pool *p = make_pool(1, 256, 256, 1, fairness);
    Gate gate;
    gate.block_worker(p);
    Order order;
    std::vector<OrderArg> args;
    args.reserve(201);
    for (int i = 0; i <= 200; ++i) args.push_back({&order, i});
    cq_job j = CQ_JOB_INIT;
    j.fn = Order::job;
    j.arg = &args[0];
    j.priority = CQ_PRIORITY_LOW;
    ASSERT_EQ(pool_submit_ex(p, &j), CQ_OK);
    for (int i = 1; i <= 200; ++i) {
        j.arg = &args[i];
        j.priority = CQ_PRIORITY_HIGH;
        ASSERT_EQ(pool_submit_ex(p, &j), CQ_OK);
    }
    gate.open();
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    size_t pos = 0;
    while (pos < order.seen.size() && order.seen[pos] != 0) ++pos;
    ASSERT_LT(pos, order.seen.size());
    EXPECT_LE(pos, fairness * CQ_PRIORITY_LEVELS) << "low job ran at position " << pos;
    pool_destroy(p);
}

TEST(Pool, BatchSubmit) {
    // Segments of 1: the gate job's slot is free again as soon as it is taken
    // (room is reclaimed per segment; see docs/pool.md).
    cq_pool *p = make_pool(1, 8, 1);
    Gate gate;
    gate.block_worker(p);
    Outcomes out(20);
    std::vector<cq_job> jobs(20);
    for (size_t i = 0; i < 20; ++i) jobs[i] = out.job(i);
    EXPECT_EQ(pool_submit_batch(p, jobs.data(), 20), 8);  // the longest prefix that fits
    EXPECT_EQ(pool_submit_batch(p, jobs.data() + 8, 12), CQ_EFULL);
    gate.open();
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    for (size_t i = 0; i < 20; ++i) EXPECT_EQ(out.calls(i), i < 8 ? 1u : 0u) << i;
    pooltest::expect_identity(p, 9);
    pool_destroy(p);

    p = make_pool(2, 1024, 16);
    Outcomes many(5000);
    std::vector<cq_job> all(5000);
    for (size_t i = 0; i < all.size(); ++i) {
        all[i] = many.job(i);
        all[i].priority = static_cast<uint32_t>(i / 100 % 3);  // runs of equal priority
    }
    for (size_t done = 0; done < all.size();) {
        int r = pool_submit_batch(p, all.data() + done, std::min<size_t>(300, all.size() - done));
        if (r > 0)
            done += static_cast<size_t>(r);
        else
            ASSERT_EQ(r, CQ_EFULL);
    }
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    EXPECT_TRUE(many.each_exactly_once());
    pooltest::expect_identity(p, all.size());
    cq_pool_stats st = CQ_POOL_STATS_INIT;
    ASSERT_EQ(pool_stats(p, &st), CQ_OK);
    EXPECT_GT(st.batches, 0u);
    EXPECT_GE(st.mean_batch_size, 1.0);
    pool_destroy(p);
}

struct Hooks {
    std::atomic<int> started{0}, stopped{0};
    std::atomic<uint32_t> index_mask{0};
};

TEST(Pool, ThreadHooksAndAffinity) {
    Hooks h;
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = 3;
    o.on_thread_start = [](void *u, uint32_t i) {
        auto *hk = static_cast<Hooks *>(u);
        hk->started++;
        hk->index_mask |= 1u << i;
    };
    o.on_thread_stop = [](void *u, uint32_t) { static_cast<Hooks *>(u)->stopped++; };
    o.hook_user = &h;
    uint32_t cpu = 0;
    o.cpu_affinity = &cpu;
    o.cpu_affinity_count = 1;
    cq_pool *p = nullptr;
    ASSERT_EQ(pool_create(&o, &p), CQ_OK) << cq_last_error();
    std::atomic<int> wrong_cpu{0}, ran{0};
    struct Ctx {
        std::atomic<int> *wrong, *ran;
    } ctx{&wrong_cpu, &ran};
    for (int i = 0; i < 30; ++i)
        ASSERT_EQ(pool_submit(
                      p,
                      [](void *a) {
                          auto *c = static_cast<Ctx *>(a);
                          if (sched_getcpu() != 0) (*c->wrong)++;
                          (*c->ran)++;
                      },
                      &ctx),
                  CQ_OK);
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    EXPECT_EQ(ran.load(), 30);
    EXPECT_EQ(wrong_cpu.load(), 0);
    EXPECT_EQ(h.started.load(), 3);
    EXPECT_EQ(h.stopped.load(), 3);
    EXPECT_EQ(h.index_mask.load(), 7u);
    pool_destroy(p);
}

TEST(Pool, MetricsCallbackOffTheHotPath) {
    struct M {
        std::atomic<int> calls{0};
        std::atomic<uint64_t> last_submitted{0};
        std::thread::id caller;
    } m;
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = 1;
    o.metrics = [](void *u, const cq_pool_stats *s) {
        auto *mm = static_cast<M *>(u);
        mm->last_submitted = s->submitted;
        mm->calls++;
    };
    o.metrics_user = &m;
    o.metrics_interval_ns = 5'000'000;
    cq_pool *p = nullptr;
    ASSERT_EQ(pool_create(&o, &p), CQ_OK) << cq_last_error();
    for (int i = 0; i < 10; ++i) ASSERT_EQ(pool_submit(p, noop, nullptr), CQ_OK);
    cqtest::wait_until([&] { return m.calls >= 3 && m.last_submitted >= 10; }, 2000);
    EXPECT_GE(m.calls.load(), 3);
    EXPECT_EQ(m.last_submitted.load(), 10u);
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    pool_destroy(p);
}

TEST(Pool, ShutdownOrDestroyFromAWorkerIsRefused) {
    cq_pool *p = make_pool(1, 16);
    std::atomic<int> r{1};
    struct Ctx {
        cq_pool *p;
        std::atomic<int> *r;
    } ctx{p, &r};
    ASSERT_EQ(pool_submit(
                  p,
                  [](void *a) {
                      auto *c = static_cast<Ctx *>(a);
                      *c->r = pool_shutdown(c->p, 0);
                  },
                  &ctx),
              CQ_OK);
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    EXPECT_EQ(r.load(), CQ_EPERM);
    pool_destroy(p);
}

TEST(Pool, NoLostWakeUps) {
    // A job submitted to an idle (sleeping) pool runs within a bound.
    const uint64_t seed = cqtest::seed_for("Pool.NoLostWakeUps");
    std::mt19937_64 rng(seed);
    cq_pool *p = make_pool(2, 64);
    for (int round = 0; round < 100; ++round) {
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
        std::atomic<int> done{0};
        auto t0 = std::chrono::steady_clock::now();
        ASSERT_EQ(pool_submit(
                      p, [](void *a) { static_cast<std::atomic<int> *>(a)->store(1); }, &done),
                  CQ_OK);
        while (!done && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5))
            std::this_thread::yield();
        ASSERT_EQ(done.load(), 1) << "round " << round << ": a job waited 5 s on an idle pool";
    }
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    pool_destroy(p);
}

// A worker never sleeps while a job is queued. Two idle workers; job A is
// woken for and waits for job B, submitted right after it at another
// priority (so the worker woken for A takes A alone). B's wake-up found A's
// still in flight and was skipped; before wake chaining, the second worker
// slept on and A waited out its 2 s.
TEST(Pool, AQueuedJobWakesASecondWorker) {
    cq_pool *p = make_pool(2, 64);
    for (int round = 0; round < 20; ++round) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // both asleep
        std::atomic<int> b_ran{0}, a_saw_b{-1};
        struct Ctx {
            std::atomic<int> *b_ran, *a_saw_b;
        } ctx{&b_ran, &a_saw_b};
        cq_job a = CQ_JOB_INIT;
        a.priority = CQ_PRIORITY_HIGH;
        a.fn = [](void *arg) {
            auto *c = static_cast<Ctx *>(arg);
            auto t0 = std::chrono::steady_clock::now();
            while (!*c->b_ran && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2))
                std::this_thread::yield();
            *c->a_saw_b = c->b_ran->load();
        };
        a.arg = &ctx;
        cq_job b = CQ_JOB_INIT;
        b.fn = [](void *arg) { static_cast<std::atomic<int> *>(arg)->store(1); };
        b.arg = &b_ran;
        ASSERT_EQ(pool_submit_ex(p, &a), CQ_OK);
        ASSERT_EQ(pool_submit_ex(p, &b), CQ_OK);
        cqtest::wait_until([&] { return a_saw_b >= 0; }, 5000);
        ASSERT_EQ(a_saw_b.load(), 1) << "round " << round << ": B waited for A to finish";
    }
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    pool_destroy(p);
}

// pool_shutdown and pool_destroy from the metrics callback: the pool's own
// thread, like a worker (it would join itself).
TEST(Pool, ShutdownFromTheMetricsCallbackIsRefused) {
    struct M {
        std::atomic<cq_pool *> p{nullptr};  // set after pool_create returns
        std::atomic<int> r{1};
    } m;
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = 1;
    o.metrics = [](void *u, const cq_pool_stats *) {
        auto *mm = static_cast<M *>(u);
        int expected = 1;
        if (cq_pool *p = mm->p.load()) mm->r.compare_exchange_strong(expected, pool_shutdown(p, 0));
    };
    o.metrics_user = &m;
    o.metrics_interval_ns = 1'000'000;
    cq_pool *p = nullptr;
    ASSERT_EQ(pool_create(&o, &p), CQ_OK) << cq_last_error();
    m.p = p;
    cqtest::wait_until([&] { return m.r != 1; }, 2000);
    EXPECT_EQ(m.r.load(), CQ_EPERM);
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    pool_destroy(p);
}

// A job that attaches a queue while the pool shuts down gets CQ_ECLOSED; it
// used to block on the mutex shutdown holds while it waits for that job.
TEST(Pool, AttachDuringShutdownIsClosedNotADeadlock) {
    std::string name = cqtest::unique_name("pattach");
    cq_queue_options qo = CQ_QUEUE_OPTIONS_INIT;
    qo.flags = CQ_CREATE | CQ_EXCL;
    qo.capacity = 16;
    cq_queue *q = nullptr;
    ASSERT_EQ(cq_open(name.c_str(), &qo, &q), CQ_OK) << cq_last_error();
    cq_pool *p = make_pool(1, 16);
    struct Ctx {
        cq_pool *p;
        cq_queue *q;
        std::atomic<int> started{0}, r{1};
    } ctx{p, q};
    ASSERT_EQ(pool_submit(
                  p,
                  [](void *arg) {
                      auto *c = static_cast<Ctx *>(arg);
                      c->started = 1;
                      std::this_thread::sleep_for(std::chrono::milliseconds(100));
                      c->r = pool_attach_queue(
                          c->p, c->q, [](void *, const void *, size_t) {}, nullptr);
                  },
                  &ctx),
              CQ_OK);
    while (!ctx.started) std::this_thread::yield();
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);  // hung here before
    EXPECT_EQ(ctx.r.load(), CQ_ECLOSED);
    pool_destroy(p);
    cq_close(q);
    cq_unlink(name.c_str());
}

TEST(Pool, SegmentSizeOne) {
    cq_pool *p = make_pool(2, 8, 1, 4);
    cq_pool_stats st = CQ_POOL_STATS_INIT;
    ASSERT_EQ(pool_stats(p, &st), CQ_OK);
    EXPECT_EQ(st.segment_size, 1u);
    EXPECT_EQ(st.queue_capacity, 8u);
    Outcomes out(20000);
    std::vector<std::thread> producers;
    for (int t = 0; t < 3; ++t)
        producers.emplace_back([&, t] {
            for (size_t i = static_cast<size_t>(t); i < out.size(); i += 3)
                while (out.submit(p, i) == CQ_EFULL) std::this_thread::yield();
        });
    for (auto &t : producers) t.join();
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    EXPECT_TRUE(out.each_exactly_once());
    pooltest::expect_identity(p, out.size());
    pool_destroy(p);
}

TEST(Pool, CapacityRoundsUpToPowerOfTwo) {
    cq_pool *p = make_pool(1, 100, 3);
    cq_pool_stats st = CQ_POOL_STATS_INIT;
    ASSERT_EQ(pool_stats(p, &st), CQ_OK);
    EXPECT_EQ(st.queue_capacity, 128u);
    EXPECT_EQ(st.segment_size, 4u);
    EXPECT_EQ(st.workers, 1u);
    pool_destroy(p);
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;  // default segment 256 > capacity 8: clamped
    o.workers = 1;
    o.queue_capacity = 8;
    ASSERT_EQ(pool_create(&o, &p), CQ_OK) << cq_last_error();
    ASSERT_EQ(pool_stats(p, &st), CQ_OK);
    EXPECT_EQ(st.segment_size, 8u);
    pool_destroy(p);
}

}  // namespace
