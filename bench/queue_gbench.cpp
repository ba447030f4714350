// In-process costs of one thread doing enqueue+dequeue pairs on an empty
// queue: no contention, so what is measured is the instruction and fence
// cost of the fast path.
//
//   BM_CApiPair/<bytes>            cq_enqueue + cq_dequeue (shared library)
//   BM_CorePair/gate/<bytes>       cq::Queue, recovery gate on (as shipped)
//   BM_CorePair/nogate/<bytes>     cq::Queue after disable_gate_for_bench()
//   BM_CApiTwoQueues/<bytes>       one pair on queue A, then one on queue B:
//                                  what a thread that alternates handles pays
//   BM_CApiBatch32/<bytes>         cq_enqueue_batch + cq_dequeue_batch of 32
//   BM_Moodycamel*/<bytes>         moodycamel::ConcurrentQueue, the ceiling
//
// items_per_second counts messages (a pair moves one, a batch 32).
// Gate cost = nogate vs gate cpu_time of BM_CorePair; bench_xproc reads it
// from this program's JSON output (--benchmark_out).
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>
#include <concurrentqueue/concurrentqueue.h>

#include "core/queue/queue.hpp"
#include "cqueue/cqueue.h"

namespace {

constexpr uint32_t kCapacity = 4096;
constexpr uint32_t kMaxMsg = 256;
constexpr int kBatch = 32;

std::string queue_name(const char *what) {
    static int seq = 0;
    return "cqbench-gb-" + std::to_string(::getpid()) + "-" + what + "-" + std::to_string(seq++);
}

// A C API queue that exists for one benchmark run.
class CApiQueue {
  public:
    CApiQueue() : name_(queue_name("capi")) {
        cq_queue_options o;
        cq_queue_options_init(&o);
        o.flags = CQ_CREATE | CQ_EXCL;
        o.capacity = kCapacity;
        o.max_message_size = kMaxMsg;
        if (int rc = cq_open(name_.c_str(), &o, &q_); rc != CQ_OK)
            std::fprintf(stderr, "cq_open %s: %s (%s)\n", name_.c_str(), cq_strerror(rc),
                         cq_last_error());
    }
    ~CApiQueue() {
        cq_close(q_);
        cq_unlink(name_.c_str());
    }
    CApiQueue(const CApiQueue &) = delete;
    CApiQueue &operator=(const CApiQueue &) = delete;
    cq_queue *get() const { return q_; }

  private:
    std::string name_;
    cq_queue *q_ = nullptr;
};

void BM_CApiPair(benchmark::State &state) {
    const size_t n = static_cast<size_t>(state.range(0));
    CApiQueue q;
    if (!q.get()) return state.SkipWithError("cq_open failed");
    std::array<char, kMaxMsg> msg{}, buf{};
    msg.fill('x');
    for (auto _ : state) {
        size_t len = 0;
        if (cq_enqueue(q.get(), msg.data(), n) != CQ_OK ||
            cq_dequeue(q.get(), buf.data(), buf.size(), &len) != CQ_OK) {
            state.SkipWithError("cq_enqueue/cq_dequeue failed");
            break;
        }
        benchmark::DoNotOptimize(buf.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_CApiTwoQueues(benchmark::State &state) {
    const size_t n = static_cast<size_t>(state.range(0));
    CApiQueue a, b;
    if (!a.get() || !b.get()) return state.SkipWithError("cq_open failed");
    std::array<char, kMaxMsg> msg{}, buf{};
    msg.fill('x');
    for (auto _ : state) {
        size_t len = 0;
        if (cq_enqueue(a.get(), msg.data(), n) != CQ_OK ||
            cq_dequeue(a.get(), buf.data(), buf.size(), &len) != CQ_OK ||
            cq_enqueue(b.get(), msg.data(), n) != CQ_OK ||
            cq_dequeue(b.get(), buf.data(), buf.size(), &len) != CQ_OK) {
            state.SkipWithError("cq_enqueue/cq_dequeue failed");
            break;
        }
        benchmark::DoNotOptimize(buf.data());
    }
    state.SetItemsProcessed(2 * state.iterations());  // two pairs per iteration
}

void BM_CApiBatch32(benchmark::State &state) {
    const size_t n = static_cast<size_t>(state.range(0));
    CApiQueue q;
    if (!q.get()) return state.SkipWithError("cq_open failed");
    static std::array<std::array<char, kMaxMsg>, kBatch> in{}, out{};
    cq_iov iov[kBatch];
    cq_rbuf rb[kBatch];
    for (int i = 0; i < kBatch; ++i) {
        in[i].fill(static_cast<char>('a' + i % 26));
        iov[i] = cq_iov{in[i].data(), n};
        rb[i] = cq_rbuf{out[i].data(), out[i].size(), 0};
    }
    for (auto _ : state) {
        if (cq_enqueue_batch(q.get(), iov, kBatch) != kBatch ||
            cq_dequeue_batch(q.get(), rb, kBatch) != kBatch) {
            state.SkipWithError("batch of 32 not moved whole");
            break;
        }
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(kBatch * state.iterations());
}

void BM_CorePair(benchmark::State &state, bool gate) {
    const size_t n = static_cast<size_t>(state.range(0));
    const std::string name = queue_name(gate ? "gate" : "nogate");
    cq::RegionParams p;
    p.create = true;
    p.excl = true;
    p.capacity = kCapacity;
    p.max_message_size = kMaxMsg;
    std::unique_ptr<cq::Queue> q;
    if (cq::Queue::open(name.c_str(), p, &q) != cq::Errc::ok)
        return state.SkipWithError(cq::last_error());
    if (!gate) q->disable_gate_for_bench();
    std::array<char, kMaxMsg> msg{}, buf{};
    msg.fill('x');
    for (auto _ : state) {
        size_t len = 0;
        if (q->enqueue(msg.data(), n) != cq::Errc::ok ||
            q->dequeue(buf.data(), buf.size(), &len) != cq::Errc::ok) {
            state.SkipWithError("enqueue/dequeue failed");
            break;
        }
        benchmark::DoNotOptimize(buf.data());
    }
    state.SetItemsProcessed(state.iterations());
    q.reset();
    cq::Region::unlink(name.c_str());
}

template <size_t N>
struct Msg {
    char b[N];
};

template <size_t N>
void BM_MoodycamelPair(benchmark::State &state) {
    moodycamel::ConcurrentQueue<Msg<N>> q(kCapacity);
    Msg<N> m{}, out{};
    std::memset(m.b, 'x', N);
    for (auto _ : state) {
        if (!q.enqueue(m) || !q.try_dequeue(out)) {
            state.SkipWithError("moodycamel enqueue/try_dequeue failed");
            break;
        }
        benchmark::DoNotOptimize(&out);
    }
    state.SetItemsProcessed(state.iterations());
}

template <size_t N>
void BM_MoodycamelPairTokens(benchmark::State &state) {
    moodycamel::ConcurrentQueue<Msg<N>> q(kCapacity);
    moodycamel::ProducerToken pt(q);
    moodycamel::ConsumerToken ct(q);
    Msg<N> m{}, out{};
    std::memset(m.b, 'x', N);
    for (auto _ : state) {
        if (!q.enqueue(pt, m) || !q.try_dequeue(ct, out)) {
            state.SkipWithError("moodycamel enqueue/try_dequeue failed");
            break;
        }
        benchmark::DoNotOptimize(&out);
    }
    state.SetItemsProcessed(state.iterations());
}

template <size_t N>
void BM_MoodycamelBulk32(benchmark::State &state) {
    moodycamel::ConcurrentQueue<Msg<N>> q(kCapacity);
    moodycamel::ProducerToken pt(q);
    moodycamel::ConsumerToken ct(q);
    static Msg<N> in[kBatch], out[kBatch];
    for (auto &m : in) std::memset(m.b, 'x', N);
    for (auto _ : state) {
        if (!q.enqueue_bulk(pt, in, kBatch) || q.try_dequeue_bulk(ct, out, kBatch) != kBatch) {
            state.SkipWithError("moodycamel bulk failed");
            break;
        }
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(kBatch * state.iterations());
}

}  // namespace

BENCHMARK(BM_CApiPair)->Arg(8)->Arg(256);
BENCHMARK_CAPTURE(BM_CorePair, gate, true)->Arg(8)->Arg(256);
BENCHMARK_CAPTURE(BM_CorePair, nogate, false)->Arg(8)->Arg(256);
BENCHMARK(BM_CApiTwoQueues)->Arg(8)->Arg(256);
BENCHMARK(BM_CApiBatch32)->Arg(8)->Arg(256);
BENCHMARK(BM_MoodycamelPair<8>)->Name("BM_MoodycamelPair/8");
BENCHMARK(BM_MoodycamelPair<256>)->Name("BM_MoodycamelPair/256");
BENCHMARK(BM_MoodycamelPairTokens<8>)->Name("BM_MoodycamelPairTokens/8");
BENCHMARK(BM_MoodycamelPairTokens<256>)->Name("BM_MoodycamelPairTokens/256");
BENCHMARK(BM_MoodycamelBulk32<8>)->Name("BM_MoodycamelBulk32/8");
BENCHMARK(BM_MoodycamelBulk32<256>)->Name("BM_MoodycamelBulk32/256");

int main(int argc, char **argv) {
    // The command to reproduce, as the style guide asks of benches.
    std::printf("command:");
    for (int i = 0; i < argc; ++i) std::printf(" %s", argv[i]);
    std::printf("\n");
    std::fflush(stdout);  // before Google Benchmark's context, on stderr
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
