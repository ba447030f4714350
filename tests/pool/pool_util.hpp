// Helpers of the pool tests: jobs that record what happened to them, a gate
// that holds a worker, and the accounting identity.
#pragma once

#include <cqueue/cqueue.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>

#include "tests/util/test_util.hpp"

namespace pooltest {

enum class Kind { plain, throws, marks_failed };

// One record per job: how often fn ran, how often cleanup ran, with what.
class Outcomes {
  public:
    explicit Outcomes(size_t n) : n_(n), recs_(new Rec[n]) {}
    size_t size() const { return n_; }

    cq_job job(size_t i, Kind kind = Kind::plain, cq_cancel_token *tok = nullptr,
               int64_t deadline = 0) {
        recs_[i].kind = kind;
        cq_job j = CQ_JOB_INIT;
        j.fn = run;
        j.arg = &recs_[i];
        j.cleanup = cleanup;
        j.cancel = tok;
        j.deadline_ns = deadline;
        return j;
    }
    int submit(cq_pool *p, size_t i, Kind kind = Kind::plain, cq_cancel_token *tok = nullptr,
               int64_t deadline = 0) {
        cq_job j = job(i, kind, tok, deadline);
        return pool_submit_ex(p, &j);
    }
    uint32_t calls(size_t i) const { return recs_[i].cleanups.load(); }
    uint32_t ran(size_t i) const { return recs_[i].runs.load(); }
    int status(size_t i) const { return recs_[i].status.load(); }
    size_t count(int status) const {
        size_t k = 0;
        for (size_t i = 0; i < n_; ++i) k += recs_[i].cleanups == 1 && recs_[i].status == status;
        return k;
    }
    // Every cleanup ran exactly once, and fn ran iff the status is CQ_OK or CQ_EIO.
    bool each_exactly_once() const {
        for (size_t i = 0; i < n_; ++i) {
            const Rec &r = recs_[i];
            bool should_run = r.status == CQ_OK || r.status == CQ_EIO;
            if (r.cleanups != 1 || r.runs != (should_run ? 1u : 0u)) {
                ADD_FAILURE() << "job " << i << ": cleanups " << r.cleanups << ", runs " << r.runs
                              << ", status " << r.status;
                return false;
            }
        }
        return true;
    }

  private:
    struct Rec {
        std::atomic<uint32_t> runs{0};
        std::atomic<uint32_t> cleanups{0};
        std::atomic<int> status{1};
        Kind kind = Kind::plain;
    };
    static void run(void *arg) {
        auto *r = static_cast<Rec *>(arg);
        r->runs.fetch_add(1, std::memory_order_relaxed);
        if (r->kind == Kind::throws) throw std::runtime_error("job failed");
        if (r->kind == Kind::marks_failed) pool_job_fail();
    }
    static void cleanup(void *arg, int status) {
        auto *r = static_cast<Rec *>(arg);
        r->status.store(status, std::memory_order_relaxed);
        r->cleanups.fetch_add(1, std::memory_order_relaxed);
    }
    size_t n_;
    std::unique_ptr<Rec[]> recs_;
};

// Holds one worker inside a job until open().
class Gate {
  public:
    ~Gate() { open(); }
    void block_worker(cq_pool *p) {
        ASSERT_EQ(pool_submit(p, hold, this), CQ_OK);
        while (!started_.load()) std::this_thread::yield();
    }
    void open() { open_.store(true); }

  private:
    static void hold(void *arg) {
        auto *g = static_cast<Gate *>(arg);
        g->started_.store(true);
        while (!g->open_.load()) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    std::atomic<bool> started_{false}, open_{false};
};

// submitted == completed + cancelled + expired + failed, and submitted as expected.
inline void expect_identity(cq_pool *p, uint64_t submitted) {
    cq_pool_stats st = CQ_POOL_STATS_INIT;
    ASSERT_EQ(pool_stats(p, &st), CQ_OK);
    EXPECT_EQ(st.submitted, submitted);
    EXPECT_EQ(st.submitted, st.completed + st.cancelled + st.expired + st.failed)
        << "completed " << st.completed << " cancelled " << st.cancelled << " expired "
        << st.expired << " failed " << st.failed;
    EXPECT_EQ(st.queue_depth, 0u);
}

// CQ_TEST_SCALE (0.1 under TSan) scales the big tests.
inline double scale() {
    const char *s = std::getenv("CQ_TEST_SCALE");
    return s ? std::atof(s) : 1.0;
}

}  // namespace pooltest
