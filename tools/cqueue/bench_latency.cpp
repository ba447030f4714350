// Latency: ping-pong between two pinned processes over two queues. The parent
// stamps and enqueues a ping; the child dequeues it and enqueues it back on the
// pong queue; the parent measures the round trip. Twice: the receivers spin on
// cq_dequeue; then they call cq_dequeue_wait, which spins briefly before it
// sleeps on the futex, so back-to-back round trips rarely sleep; then the same
// with a 100 us pause before each ping, so that the echo side is asleep in the
// futex when the ping arrives: that row is the cost of a futex wake-up.
#include <cqueue/cqueue.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench.hpp"
#include "cli.hpp"
#include "clock.hpp"
#include "interrupt.hpp"
#include "proc.hpp"

namespace cqcli {

namespace {

constexpr uint64_t kStop = UINT64_MAX;  // sequence number that ends the child
constexpr uint64_t kWarmup = 1000;
constexpr int64_t kWaitSliceNs = 1'000'000'000;  // wait mode: check the peer this often

enum class Mode { spin, wait, wait_idle };
constexpr int64_t kIdleGapNs = 100'000;  // wait_idle: pause before each ping

// Receives one message into buf: spinning on cq_dequeue, or sleeping in
// cq_dequeue_wait. alive() is asked now and then whether to keep trying.
template <class Alive>
void receive(cq_queue *q, Mode mode, std::vector<char> &buf, bool yield, Alive alive) {
    size_t len = 0;
    for (uint64_t tries = 1;; ++tries) {
        int r = mode == Mode::spin ? cq_dequeue(q, buf.data(), buf.size(), &len)
                                   : cq_dequeue_wait(q, buf.data(), buf.size(), &len, kWaitSliceNs);
        if (r == CQ_OK) return;
        if (r != CQ_EEMPTY && r != CQ_ETIMEDOUT) throw_lib(r, "latency receive");
        if (yield) sched_yield();  // one CPU: let the peer run
        if ((r == CQ_ETIMEDOUT || tries % (1u << 20) == 0) && !alive())
            throw SysError("the peer process is gone");
    }
}

struct Queues {
    std::string ping, pong;
};

int echo(const Queues &names, const BenchConfig &cfg, Mode mode, int cpu, bool yield) {
    if (!pin_to_cpu(cpu)) std::perror("cqueue bench: sched_setaffinity");
    QueuePtr ping = open_queue(names.ping);
    QueuePtr pong = open_queue(names.pong);
    std::vector<char> buf(cfg.size);
    for (;;) {
        receive(ping.get(), mode, buf, yield, [] { return true; });
        uint64_t seq;
        std::memcpy(&seq, buf.data(), sizeof seq);
        if (seq == kStop) return kExitOk;
        check(cq_enqueue(pong.get(), buf.data(), buf.size()), "latency echo");
    }
}

struct Summary {
    int64_t min, median, p99, max;
    double mean;
};

Summary summarize(std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    double sum = 0;
    for (int64_t x : v) sum += static_cast<double>(x);
    auto at = [&](double q) {
        return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
    };
    return {v.front(), at(0.5), at(0.99), v.back(), sum / static_cast<double>(v.size())};
}

Summary measure(const Queues &names, const BenchConfig &cfg, Mode mode,
                const std::vector<int> &cpus) {
    const bool yield = cpus.size() < 2;
    const int peer_cpu = cpus[1 % cpus.size()];
    Children children;
    const pid_t child = children.fork_run("bench (echo)", [&names, &cfg, mode, peer_cpu, yield] {
        return echo(names, cfg, mode, peer_cpu, yield);
    });
    auto alive = [&] {
        ExitStatus st;
        return !children.wait(child, &st, false);
    };
    QueuePtr ping = open_queue(names.ping);
    QueuePtr pong = open_queue(names.pong);
    std::vector<char> msg(cfg.size, 'p'), buf(cfg.size);
    std::vector<int64_t> rtt;
    rtt.reserve(cfg.messages);
    for (uint64_t i = 0; i < kWarmup + cfg.messages; ++i) {
        InterruptGuard::check();
        std::memcpy(msg.data(), &i, sizeof i);
        if (mode == Mode::wait_idle) {  // busy pause: exact, and keeps this CPU awake
            const int64_t until = now_ns() + kIdleGapNs;
            while (now_ns() < until) {
            }
        }
        const int64_t t0 = now_ns();
        check(cq_enqueue(ping.get(), msg.data(), msg.size()), "latency ping");
        receive(pong.get(), mode, buf, yield, alive);
        const int64_t t1 = now_ns();
        if (i >= kWarmup) rtt.push_back(t1 - t0);
    }
    std::memcpy(msg.data(), &kStop, sizeof kStop);
    check(cq_enqueue(ping.get(), msg.data(), msg.size()), "latency stop");
    ExitStatus st;
    children.wait(child, &st);
    if (!st.exited || st.code != 0) throw SysError("the echo process failed: " + st.describe());
    return summarize(std::move(rtt));
}

// Restores the CPU affinity of this process when the measurement ends.
class AffinityGuard {
  public:
    AffinityGuard() {
        CPU_ZERO(&saved_);
        ok_ = sched_getaffinity(0, sizeof saved_, &saved_) == 0;
    }
    ~AffinityGuard() {
        if (ok_) sched_setaffinity(0, sizeof saved_, &saved_);
    }
    AffinityGuard(const AffinityGuard &) = delete;
    AffinityGuard &operator=(const AffinityGuard &) = delete;

  private:
    cpu_set_t saved_;
    bool ok_;
};

}  // namespace

int run_latency(const BenchConfig &cfg) {
    InterruptGuard interrupts;  // Ctrl-C: kill the echo process, remove the queues
    const std::vector<int> cpus = allowed_cpus();
    const Queues names{cfg.name + "-ping", cfg.name + "-pong"};
    cq_queue_options o = CQ_QUEUE_OPTIONS_INIT;
    o.capacity = 16;
    o.max_message_size = cfg.size;
    QueuePtr ping = open_queue(names.ping, CQ_CREATE | CQ_EXCL, &o);
    UnlinkGuard unlink_ping(names.ping);
    QueuePtr pong = open_queue(names.pong, CQ_CREATE | CQ_EXCL, &o);
    UnlinkGuard unlink_pong(names.pong);
    ping.reset();  // each process opens its own handles
    pong.reset();

    char what[200];
    std::snprintf(what, sizeof what,
                  "round-trip latency, %llu round trips per mode (+%llu warm-up), %u-byte "
                  "messages",
                  static_cast<unsigned long long>(cfg.messages),
                  static_cast<unsigned long long>(kWarmup), cfg.size);
    print_bench_header(what, cfg.command);
    std::printf("pinning:   pinger on CPU %d, echo on CPU %d\n", cpus[0], cpus[1 % cpus.size()]);
    if (cpus.size() < 2)
        std::printf("warning:   one usable CPU: both sides share it (spinners yield)\n");
    std::printf("\n");

    AffinityGuard restore;
    if (!pin_to_cpu(cpus[0])) std::perror("cqueue bench: sched_setaffinity");
    std::printf("%-29s %10s %10s %10s %10s %10s\n", "mode", "min ns", "median ns", "p99 ns",
                "max ns", "mean ns");
    const struct {
        Mode mode;
        const char *label;
    } modes[] = {{Mode::spin, "spin (cq_dequeue)"},
                 {Mode::wait, "cq_dequeue_wait"},
                 {Mode::wait_idle, "cq_dequeue_wait, peer asleep"}};
    for (const auto &m : modes) {
        Summary s = measure(names, cfg, m.mode, cpus);
        std::printf("%-29s %10lld %10lld %10lld %10lld %10.0f\n", m.label,
                    static_cast<long long>(s.min), static_cast<long long>(s.median),
                    static_cast<long long>(s.p99), static_cast<long long>(s.max), s.mean);
        std::fflush(stdout);
    }
    std::printf(
        "\ncq_dequeue_wait spins briefly before sleeping, so back-to-back round trips\n"
        "rarely sleep; in the last row a 100 us pause precedes each ping, so the echo\n"
        "process is normally asleep in the futex and the round trip includes its wake-up.\n");
    return kExitOk;
}

}  // namespace cqcli
