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

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<uint64_t> g_done{0};
uint64_t g_spin_iters = 0;  // iterations of spin_body for ~1 us

__attribute__((noinline)) void spin_body(uint64_t iters) {
    for (uint64_t i = 0; i < iters; ++i) asm volatile("" ::: "memory");
}
void empty_job(void *) {
    g_done.fetch_add(1, std::memory_order_relaxed);
}
void us_job(void *) {
    spin_body(g_spin_iters);
    g_done.fetch_add(1, std::memory_order_relaxed);
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

void wait_done(uint64_t n) {
    while (g_done.load(std::memory_order_relaxed) < n) asm volatile("pause");
}

double ns_per_job(Clock::time_point t0, uint64_t n) {
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
           static_cast<double>(n);
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
    g_done = 0;
    auto t0 = Clock::now();
    if (batch == 1) {
        for (uint64_t i = 0; i < n;)
            if (pool_submit(p, fn, nullptr) == CQ_OK) ++i;
    } else {
        for (uint64_t i = 0; i < n;) {
            int r = pool_submit_batch(p, jobs.data(), std::min<uint64_t>(batch, n - i));
            if (r > 0) i += static_cast<uint64_t>(r);
        }
    }
    wait_done(n);
    double r = ns_per_job(t0, n);
    pool_shutdown(p, CQ_WAIT_FOREVER);
    pool_destroy(p);
    return r;
}

double run_naive(const Config &c, uint32_t workers, cq_job_fn fn, uint64_t n) {
    NaivePool pool(workers, c.pin ? 1 : -1);
    g_done = 0;
    auto t0 = Clock::now();
    for (uint64_t i = 0; i < n; ++i) pool.submit(fn, nullptr);
    wait_done(n);
    return ns_per_job(t0, n);
}

double run_tbb(uint32_t workers, cq_job_fn fn, uint64_t n) {
    // workers threads of TBB's own, plus the submitting thread, which joins in
    // at wait(): as many threads as the others have, plus one.
    tbb::task_arena arena(static_cast<int>(workers) + 1, 1);
    g_done = 0;
    Clock::time_point t0;
    arena.execute([&] {
        tbb::task_group tg;
        t0 = Clock::now();
        for (uint64_t i = 0; i < n; ++i) tg.run([fn] { fn(nullptr); });
        tg.wait();
    });
    wait_done(n);
    return ns_per_job(t0, n);
}

template <typename F>
double median(int reps, F f) {
    std::vector<double> v;
    for (int i = 0; i < reps; ++i) v.push_back(f());
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

std::string machine() {
    std::ifstream in("/proc/cpuinfo");
    std::string line, model = "?";
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            model = line.substr(line.find(':') + 2);
            break;
        }
    utsname u{};
    uname(&u);
    return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs online, " +
           u.sysname + " " + u.release;
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
        machine().c_str(), cmd.c_str(), cq_version(), TBB_VERSION_MAJOR, TBB_VERSION_MINOR,
        static_cast<unsigned long long>(g_spin_iters));
    std::printf("%-10s %-7s %-8s %12s %12s %12s %10s %10s\n", "job", "workers", "submit", "cqueue",
                "naive", "tbb", "naive/cq", "tbb/cq");
    for (int kind = 0; kind < 2; ++kind) {
        cq_job_fn fn = kind == 0 ? empty_job : us_job;
        const uint64_t n = kind == 0 ? c.jobs : c.jobs / 10;
        for (uint32_t w = 1; w <= 2; ++w) {
            for (uint32_t batch : {1u, 64u}) {
                double cq = median(c.reps, [&] { return run_cqueue(c, w, fn, n, batch); });
                double nv = median(c.reps, [&] { return run_naive(c, w, fn, n); });
                double tb = median(c.reps, [&] { return run_tbb(w, fn, n); });
                std::printf("%-10s %-7u %-8s %12.1f %12.1f %12.1f %10.2f %10.2f\n",
                            kind == 0 ? "empty" : "~1us", w, batch == 1 ? "single" : "batch64", cq,
                            nv, tb, nv / cq, tb / cq);
                std::fflush(stdout);
            }
        }
    }
    std::printf("# ideal for ~1 us jobs on 2 workers: %.1f ns/job (measured job cost / 2)\n",
                median(c.reps, [&] {
                    auto t0 = Clock::now();
                    for (int i = 0; i < 10000; ++i) us_job(nullptr);
                    return ns_per_job(t0, 10000);
                }) / 2);
    return 0;
}
