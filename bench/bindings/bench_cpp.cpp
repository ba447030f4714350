// Pool job crossing cost, C++ lambdas through cqueue.hpp: see run.sh. Usage: bench_cpp N
#include <atomic>
#include <chrono>
#include <cqueue/cqueue.hpp>
#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 10000;
    cqueue::Pool pool(cqueue::PoolOptions{}.workers(1).queue_capacity(16384));
    std::atomic<bool> gate{false};
    pool.submit([&] {
        while (!gate.load(std::memory_order_acquire)) {
        }
    });
    std::atomic<int> ran{0};
    for (int i = 0; i < n; ++i)
        pool.submit([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
    auto t0 = std::chrono::steady_clock::now();
    gate.store(true, std::memory_order_release);
    pool.shutdown();
    auto t1 = std::chrono::steady_clock::now();
    if (ran.load() != n) return 1;
    std::printf("cpp    %6d jobs  %8.0f ns/job\n", n,
                std::chrono::duration<double, std::nano>(t1 - t0).count() / n);
}
