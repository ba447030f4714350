// Throughput: P producer and C consumer processes, pinned round-robin, move N
// messages through one private queue. The processes share a small anonymous
// mapping for the start signal and their counters (one cache line each).
#include <cqueue/cqueue.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "bench.hpp"
#include "cli.hpp"
#include "clock.hpp"
#include "format.hpp"
#include "interrupt.hpp"
#include "mapping.hpp"
#include "proc.hpp"
#include "progress.hpp"

namespace cqcli {

namespace {

constexpr int kMaxWorkers = 256;
constexpr int64_t kWaitSliceNs = 10'000'000;  // how long a blocked worker sleeps between checks

struct alignas(64) WorkerSlot {
    std::atomic<uint64_t> count;  // messages sent (producer) or received (consumer)
    std::atomic<int64_t> end_ns;  // when it finished
    std::atomic<uint32_t> ready;  // queue opened, pinned
};

struct Shared {
    std::atomic<uint32_t> go;
    std::atomic<uint32_t> abort;
    WorkerSlot slots[kMaxWorkers];
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

// Messages producer i sends: an even split, the first ones take the remainder.
uint64_t share_of(uint64_t total, uint32_t parts, uint32_t i) {
    return total / parts + (i < total % parts ? 1 : 0);
}

// Capacity: the default, but keep the region near 64 MiB for large messages.
uint32_t capacity_for(uint32_t size) {
    uint64_t cap = (64ull << 20) / (uint64_t{size} + 64);
    return static_cast<uint32_t>(std::clamp<uint64_t>(cap, 16, CQ_DEFAULT_CAPACITY));
}

class Worker {
  public:
    Worker(const BenchConfig &cfg, Shared *sh, uint32_t index, int cpu)
        : cfg_(cfg), sh_(sh), slot_(sh->slots[index]), cpu_(cpu) {}

    // Runs in the child: pin, open, report ready, wait for the start.
    QueuePtr start() {
        if (!pin_to_cpu(cpu_)) std::perror("cqueue bench: sched_setaffinity");
        QueuePtr q = open_queue(cfg_.name);
        slot_.ready.store(1, std::memory_order_release);
        while (!sh_->go.load(std::memory_order_acquire)) sleep_for_ns(50'000);
        return q;
    }

    int produce(uint64_t n) {
        QueuePtr q = start();
        std::vector<char> data(size_t{cfg_.batch} * cfg_.size, 'x');
        std::vector<cq_iov> iov(cfg_.batch);
        for (uint32_t i = 0; i < cfg_.batch; ++i)
            iov[i] = {data.data() + size_t{i} * cfg_.size, cfg_.size};
        uint64_t sent = 0;
        while (sent < n) {
            const uint32_t k = static_cast<uint32_t>(std::min<uint64_t>(cfg_.batch, n - sent));
            for (uint32_t i = 0; i < k && cfg_.size >= 8; ++i) {
                uint64_t seq = sent + i;
                std::memcpy(data.data() + size_t{i} * cfg_.size, &seq, sizeof seq);
            }
            int r = cq_enqueue_batch(q.get(), iov.data(), k);
            if (r == CQ_EFULL) {
                // Full: sleep in the library until there is room for one.
                r = cq_enqueue_wait(q.get(), iov[0].data, iov[0].len, kWaitSliceNs);
                if (r == CQ_OK) r = 1;
                if (r == CQ_ETIMEDOUT) {
                    if (sh_->abort.load(std::memory_order_relaxed)) return kExitFailed;
                    continue;
                }
            }
            sent += static_cast<uint64_t>(check(r, "producer"));
            slot_.count.store(sent, std::memory_order_relaxed);
        }
        slot_.end_ns.store(now_ns(), std::memory_order_relaxed);
        return kExitOk;
    }

    int consume() {
        QueuePtr q = start();
        std::vector<char> data(size_t{cfg_.batch} * cfg_.size);
        std::vector<cq_rbuf> bufs(cfg_.batch);
        for (uint32_t i = 0; i < cfg_.batch; ++i)
            bufs[i] = {data.data() + size_t{i} * cfg_.size, cfg_.size, 0};
        uint64_t got = 0;
        for (;;) {
            int r = cq_dequeue_batch(q.get(), bufs.data(), bufs.size());
            if (r == CQ_EEMPTY) {
                if (all_received()) break;
                size_t len = 0;
                r = cq_dequeue_wait(q.get(), bufs[0].data, bufs[0].cap, &len, kWaitSliceNs);
                if (r == CQ_OK) r = 1;
                if (r == CQ_ETIMEDOUT) {
                    if (sh_->abort.load(std::memory_order_relaxed)) return kExitFailed;
                    continue;
                }
            }
            got += static_cast<uint64_t>(check(r, "consumer"));
            slot_.count.store(got, std::memory_order_relaxed);
        }
        slot_.end_ns.store(now_ns(), std::memory_order_relaxed);
        return kExitOk;
    }

  private:
    bool all_received() const {
        uint64_t sum = 0;
        for (uint32_t j = 0; j < cfg_.consumers; ++j)
            sum += sh_->slots[cfg_.producers + j].count.load(std::memory_order_relaxed);
        return sum >= cfg_.messages;
    }

    const BenchConfig &cfg_;
    Shared *sh_;
    WorkerSlot &slot_;
    int cpu_;
};

uint64_t sum_counts(const Shared *sh, uint32_t first, uint32_t n) {
    uint64_t s = 0;
    for (uint32_t i = first; i < first + n; ++i)
        s += sh->slots[i].count.load(std::memory_order_relaxed);
    return s;
}

std::string cpu_plan(const std::vector<int> &cpus, uint32_t producers, uint32_t consumers) {
    auto list = [&](uint32_t first, uint32_t n) {
        std::string s;
        for (uint32_t i = first; i < first + n; ++i) {
            if (i > first) s += ',';
            s += std::to_string(cpus[i % cpus.size()]);
        }
        return s;
    };
    return "producers on CPU " + list(0, producers) + ", consumers on CPU " +
           list(producers, consumers);
}

}  // namespace

int run_throughput(const BenchConfig &cfg) {
    InterruptGuard interrupts;  // Ctrl-C: kill the workers, remove the queue
    const uint32_t workers = cfg.producers + cfg.consumers;
    const std::vector<int> cpus = allowed_cpus();
    const uint32_t capacity = capacity_for(cfg.size);
    cq_queue_options o = CQ_QUEUE_OPTIONS_INIT;
    o.capacity = capacity;
    o.max_message_size = cfg.size;
    QueuePtr q = open_queue(cfg.name, CQ_CREATE | CQ_EXCL, &o);
    UnlinkGuard unlink(cfg.name);

    char what[256];
    std::snprintf(what, sizeof what,
                  "throughput, %u producer(s) -> %u consumer(s), %u-byte messages, batch %u, "
                  "queue capacity %u",
                  cfg.producers, cfg.consumers, cfg.size, cfg.batch, capacity);
    print_bench_header(what, cfg.command);
    std::printf("pinning:   %s\n\n", cpu_plan(cpus, cfg.producers, cfg.consumers).c_str());
    q.reset();  // the parent only watches the shared counters

    Mapping map = Mapping::anonymous(sizeof(Shared));
    Shared *sh = new (map.data()) Shared{};
    Children children;
    std::vector<pid_t> pids;
    for (uint32_t i = 0; i < workers; ++i) {
        Worker w(cfg, sh, i, cpus[i % cpus.size()]);
        const bool producer = i < cfg.producers;
        const uint64_t n = producer ? share_of(cfg.messages, cfg.producers, i) : 0;
        const std::string who = producer
                                    ? "bench (producer " + std::to_string(i) + ")"
                                    : "bench (consumer " + std::to_string(i - cfg.producers) + ")";
        pids.push_back(children.fork_run(
            who, [&w, producer, n] { return producer ? w.produce(n) : w.consume(); }));
    }

    // Start when every worker has opened the queue, so that opening is not timed.
    const int64_t ready_deadline = now_ns() + 10'000'000'000;
    for (uint32_t i = 0; i < workers; ++i) {
        while (!sh->slots[i].ready.load(std::memory_order_acquire)) {
            ExitStatus st;
            if (children.wait(pids[i], &st, false))
                throw SysError("worker " + std::to_string(i) +
                               " ended before starting: " + st.describe());
            if (now_ns() > ready_deadline) throw SysError("workers did not start within 10 s");
            sleep_for_ns(1'000'000);
        }
    }
    const int64_t start = now_ns();
    sh->go.store(1, std::memory_order_release);

    ProgressLine progress;
    size_t done = 0;
    int64_t last_ns = start;
    uint64_t last_recv = 0;
    while (done < pids.size()) {
        InterruptGuard::check();
        for (pid_t pid : pids) {
            if (!children.running(pid)) continue;
            ExitStatus st;
            if (!children.wait(pid, &st, false)) continue;
            ++done;
            if (!st.exited || st.code != 0) {
                sh->abort.store(1);
                throw SysError("a worker failed: " + st.describe());
            }
        }
        if (progress.enabled()) {
            const int64_t now = now_ns();
            const uint64_t sent = sum_counts(sh, 0, cfg.producers);
            const uint64_t recv = sum_counts(sh, cfg.producers, cfg.consumers);
            const double rate = static_cast<double>(recv - last_recv) * 1e9 /
                                static_cast<double>(std::max<int64_t>(now - last_ns, 1));
            char line[200];
            std::snprintf(line, sizeof line, "  %.1fs  sent %llu  received %llu / %llu  %s msgs/s",
                          static_cast<double>(now - start) / 1e9,
                          static_cast<unsigned long long>(sent),
                          static_cast<unsigned long long>(recv),
                          static_cast<unsigned long long>(cfg.messages), human_count(rate).c_str());
            progress.update(line);
            last_ns = now;
            last_recv = recv;
        }
        if (done < pids.size()) sleep_for_ns(progress.enabled() ? 200'000'000 : 5'000'000);
    }
    progress.clear();

    int64_t end = start;
    for (uint32_t i = 0; i < workers; ++i)
        end = std::max<int64_t>(end, sh->slots[i].end_ns.load(std::memory_order_relaxed));
    const double secs = std::max(static_cast<double>(end - start) / 1e9, 1e-9);
    const double n = static_cast<double>(cfg.messages);
    std::printf("%12s %10s %14s %10s\n", "messages", "seconds", "msgs/s", "MB/s");
    std::printf("%12llu %10.3f %14.0f %10.1f\n", static_cast<unsigned long long>(cfg.messages),
                secs, n / secs, n * cfg.size / secs / 1e6);
    return kExitOk;
}

}  // namespace cqcli
