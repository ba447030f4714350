// Pool benchmark: cqueue's pool against a naive mutex + condition_variable
// pool and oneTBB task_group, in the same run, same job bodies.
//
// ns/job = (time from the first submit until the last job finished) / jobs.
// One producer thread; 1 and 2 workers; empty jobs (one relaxed counter
// increment) and ~1 us jobs (a calibrated spin); single and batch submit.
// Each figure is the median of --reps runs. Never a test: it only prints.
//
//   bench_pool [--jobs N] [--reps R] [--pin]
//     --pin  producer on CPU 0, workers on CPUs 1.. (cqueue and naive pools;
//            TBB places its own threads)
#include <cqueue/cqueue.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/version.h>
#include <pthread.h>
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/pool/naive_pool.hpp"

#include "bench/xproc/machine.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<uint64_t> g_done{0};
std::atomic<uint64_t> g_target{0};  // jobs in this run: the last one wakes the producer
std::atomic<int> g_finished{0};

// Every job body ends here: count, and the job that completes the run wakes
// the producer (one futex call per run).
inline void job_done() {
    if (g_done.fetch_add(1, std::memory_order_relaxed) + 1 ==
        g_target.load(std::memory_order_relaxed)) {
        g_finished.store(1, std::memory_order_release);
        g_finished.notify_one();
    }
}
uint64_t g_spin_iters = 0;  // iterations of spin_body for ~1 us

__attribute__((noinline)) void spin_body(uint64_t iters) {
    for (uint64_t i = 0; i < iters; ++i) asm volatile("" ::: "memory");
}
void empty_job(void *) {
    job_done();
}
void us_job(void *) {
    spin_body(g_spin_iters);
    job_done();
}

void calibrate() {
    uint64_t iters = 1000;
    for (;;) {
        auto t0 = Clock::now();
        spin_body(iters * 100);
        double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / 100;
        if (ns > 200) {
            g_spin_iters = static_cast<uint64_t>(static_cast<double>(iters) * 1000.0 / ns);
            return;
        }
        iters *= 2;
    }
}

void pin_self(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % static_cast<int>(std::thread::hardware_concurrency()), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

struct Config {
    uint64_t jobs = 2'000'000;
    int reps = 5;
    bool pin = false;
};

// Arms a run of n jobs; call before the first submit.
void start_run(uint64_t n) {
    g_done = 0;
    g_finished = 0;
    g_target = n;
}

// The producer sleeps on a futex until the last job: spinning or polling
// here would take CPU time from a worker whenever workers + producer > CPUs.
void wait_done() {
    while (!g_finished.load(std::memory_order_acquire))
        g_finished.wait(0, std::memory_order_acquire);
}

double ns_per_job(Clock::time_point t0, uint64_t n) {
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
           static_cast<double>(n);
}

// Cost of one ~1 us job measured now, on a thread placed as the first worker.
double job_cost(const Config &c) {
    double ns = 0;
    std::thread t([&] {
        if (c.pin) pin_self(1);
        constexpr int kJobs = 20000;
        auto t0 = Clock::now();
        for (int i = 0; i < kJobs; ++i) spin_body(g_spin_iters);
        ns = ns_per_job(t0, kJobs);
    });
    t.join();
    return ns;
}

// The ceiling on this machine: w plain threads placed as the workers, each
// running its share of n ~1 us jobs, no queue at all. On a VM whose vCPUs
// are not equal when both are busy this is below job_cost / w, and no pool
// can beat it (compare the cq/ideal and cq/raw columns of one run).
double raw_parallel(const Config &c, uint32_t w, uint64_t n) {
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    std::vector<std::thread> ts;
    auto t0 = Clock::now();
    for (uint32_t i = 0; i < w; ++i)
        ts.emplace_back([&, i] {
            if (c.pin)
                pin_self(static_cast<int>((1 + i) % static_cast<uint32_t>(ncpu > 0 ? ncpu : 1)));
            for (uint64_t j = i; j < n; j += w) spin_body(g_spin_iters);
        });
    for (auto &t : ts) t.join();
    return ns_per_job(t0, n);
}

// ---- the three pools ------------------------------------------------------------
double run_cqueue(const Config &c, uint32_t workers, cq_job_fn fn, uint64_t n, uint32_t batch) {
    std::vector<uint32_t> cpus;
    // Wrap around the online CPUs, as the naive pool does (2 workers on a
    // 2-CPU machine: CPUs 1 and 0).
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    for (uint32_t i = 0; i < workers; ++i)
        cpus.push_back(static_cast<uint32_t>((1 + i) % static_cast<uint32_t>(ncpu > 0 ? ncpu : 1)));
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = workers;
    o.queue_capacity = 65536;
    if (c.pin) {
        o.cpu_affinity = cpus.data();
        o.cpu_affinity_count = workers;
    }
    cq_pool *p = nullptr;
    if (pool_create(&o, &p) != CQ_OK) {
        std::fprintf(stderr, "pool_create: %s\n", cq_last_error());
        std::exit(1);
    }
    std::vector<cq_job> jobs(batch);
    for (auto &j : jobs) {
        j = cq_job CQ_JOB_INIT;
        j.fn = fn;
    }
    start_run(n);
    auto t0 = Clock::now();
    // A full queue makes the producer sleep in pool_submit_wait, as a real
    // producer would: spinning on CQ_EFULL would take a core from the workers.
    if (batch == 1) {
        for (uint64_t i = 0; i < n; ++i)
            if (pool_submit(p, fn, nullptr) != CQ_OK)
                pool_submit_wait(p, &jobs[0], CQ_WAIT_FOREVER);
    } else {
        for (uint64_t i = 0; i < n;) {
            int r = pool_submit_batch(p, jobs.data(), std::min<uint64_t>(batch, n - i));
            if (r > 0) {
                i += static_cast<uint64_t>(r);
            } else if (pool_submit_wait(p, &jobs[0], CQ_WAIT_FOREVER) == CQ_OK) {
                ++i;
            }
        }
    }
    wait_done();
    double r = ns_per_job(t0, n);
    pool_shutdown(p, CQ_WAIT_FOREVER);
    pool_destroy(p);
    return r;
}

double run_naive(const Config &c, uint32_t workers, cq_job_fn fn, uint64_t n) {
    NaivePool pool(workers, c.pin ? 1 : -1);
    start_run(n);
    auto t0 = Clock::now();
    for (uint64_t i = 0; i < n; ++i) pool.submit(fn, nullptr);
    wait_done();
    return ns_per_job(t0, n);
}

double run_tbb(uint32_t workers, cq_job_fn fn, uint64_t n) {
    // workers threads of TBB's own, plus the submitting thread, which joins in
    // at wait(): as many threads as the others have, plus one.
    tbb::task_arena arena(static_cast<int>(workers) + 1, 1);
    start_run(n);
    Clock::time_point t0;
    arena.execute([&] {
        tbb::task_group tg;
        t0 = Clock::now();
        for (uint64_t i = 0; i < n; ++i) tg.run([fn] { fn(nullptr); });
        tg.wait();
    });
    wait_done();
    return ns_per_job(t0, n);
}

template <typename F>
double median(int reps, F f) {
    std::vector<double> v;
    for (int i = 0; i < reps; ++i) v.push_back(f());
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char **argv) {
    Config c;
    std::string cmd = argv[0];
    for (int i = 1; i < argc; ++i) {
        cmd += std::string(" ") + argv[i];
        if (!std::strcmp(argv[i], "--jobs") && i + 1 < argc) {
            c.jobs = std::strtoull(argv[++i], nullptr, 10);
            cmd += std::string(" ") + argv[i];
        } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
            c.reps = std::atoi(argv[++i]);
            cmd += std::string(" ") + argv[i];
        } else if (!std::strcmp(argv[i], "--pin")) {
            c.pin = true;
        } else {
            std::fprintf(stderr, "usage: %s [--jobs N] [--reps R] [--pin]\n", argv[0]);
            return 2;
        }
    }
    if (c.pin) pin_self(0);
    calibrate();
    std::printf("# bench_pool: ns/job = (first submit .. last job finished) / jobs, median of %d\n",
                c.reps);
    std::printf(
        "# machine: %s\n# command: %s\n# libcqueue %s, oneTBB %d.%d, ~1 us job = %llu "
        "spin iterations\n",
        cqb::machine_line().c_str(), cmd.c_str(), cq_version(), TBB_VERSION_MAJOR,
        TBB_VERSION_MINOR, static_cast<unsigned long long>(g_spin_iters));
    std::printf("%-10s %-7s %-8s %12s %12s %12s %10s %10s %10s %10s %8s\n", "job", "workers",
                "submit", "cqueue", "naive", "tbb", "naive/cq", "tbb/cq", "ideal", "cq/ideal",
                "cq/raw");
    for (int kind = 0; kind < 2; ++kind) {
        cq_job_fn fn = kind == 0 ? empty_job : us_job;
        const uint64_t n = kind == 0 ? c.jobs : c.jobs / 10;
        for (uint32_t w = 1; w <= 2; ++w) {
            for (uint32_t batch : {1u, 64u}) {
                // Ideal for this row: the job's cost, run inline on a worker's
                // CPU just before, divided by the workers (empty jobs: none).
                // The host's noise moves the job's cost by 2x between rows, so
                // each rep pairs its own ideal with its run: cq/ideal is the
                // median of those per-rep ratios.
                std::vector<double> ideals, ratios, raws;
                double cq = median(c.reps, [&] {
                    double id = kind == 0 ? 1 : job_cost(c) / w;
                    double raw = kind == 0 ? 1 : raw_parallel(c, w, n);
                    double ns = run_cqueue(c, w, fn, n, batch);
                    ideals.push_back(id);
                    ratios.push_back(ns / id);
                    raws.push_back(ns / raw);
                    return ns;
                });
                auto mid = [](std::vector<double> v) {
                    std::sort(v.begin(), v.end());
                    return v[v.size() / 2];
                };
                const double ideal = mid(ideals), ratio = mid(ratios), raw_ratio = mid(raws);
                double nv = median(c.reps, [&] { return run_naive(c, w, fn, n); });
                double tb = median(c.reps, [&] { return run_tbb(w, fn, n); });
                std::printf("%-10s %-7u %-8s %12.1f %12.1f %12.1f %10.2f %10.2f",
                            kind == 0 ? "empty" : "~1us", w, batch == 1 ? "single" : "batch64", cq,
                            nv, tb, nv / cq, tb / cq);
                if (kind == 0)
                    std::printf(" %10s %10s %8s\n", "-", "-", "-");
                else
                    std::printf(" %10.1f %10.2f %8.2f\n", ideal, ratio, raw_ratio);
                std::fflush(stdout);
            }
        }
    }
    std::printf(
        "# ideal = cost of the ~1 us job run inline on CPU 1 (--pin) just before each rep, "
        "divided by the workers; cq/ideal = median of the per-rep ratios; target <= 1.15 "
        "with 2 workers\n# cq/raw = the same against plain threads running the jobs "
        "with no queue (the machine's real ceiling), per rep\n");
    return 0;
}
