#include "bench/xproc/throughput.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "bench/xproc/procs.hpp"

namespace cqb {
namespace {

constexpr int kMaxProcs = 8;
constexpr int kMaxBatch = 32;
constexpr size_t kMaxMsg = 256;
constexpr uint64_t kStop = ~0ull;

// Message word: producer id in the top 8 bits, sequence number below.
uint64_t encode(int producer, uint64_t seq) {
    return (static_cast<uint64_t>(producer) << 56) | seq;
}

struct alignas(64) ProcResult {
    uint64_t start_ns = 0, end_ns = 0;
    uint64_t msgs = 0, seq_sum = 0, out_of_order = 0;
    uint64_t stalls = 0;  // Backoff pauses: channel found full (producer) or empty
    char err[160] = {};
};

struct Control {
    alignas(64) std::atomic<int> stops{0};  // stop messages dequeued so far
    ProcResult proc[kMaxProcs];
};

void set_err(ProcResult &r, const std::string &e) {
    std::snprintf(r.err, sizeof r.err, "%s", e.c_str());
}

int produce(Transport &t, const Spec &spec, int id, uint64_t count, ProcResult &res,
            const std::function<void()> &go) {
    std::string err;
    auto ep = t.open(&err);
    if (!ep) return set_err(res, err), 1;
    const int batch = std::min(t.batch(), kMaxBatch);
    alignas(64) static char bufs[kMaxBatch][kMaxMsg];
    const void *ptrs[kMaxBatch];
    for (int i = 0; i < kMaxBatch; ++i) {
        std::memset(bufs[i], 'p', sizeof bufs[i]);
        ptrs[i] = bufs[i];
    }
    go();
    res.start_ns = now_ns();
    for (uint64_t seq = 0; seq < count;) {
        const int k = static_cast<int>(std::min<uint64_t>(batch, count - seq));
        for (int i = 0; i < k; ++i) {
            const uint64_t w = encode(id, seq + i);
            std::memcpy(bufs[i], &w, sizeof w);
        }
        const bool ok =
            k == 1 ? ep->send(bufs[0], spec.msg_size) : ep->send_many(ptrs, spec.msg_size, k);
        if (!ok) return set_err(res, ep->error()), 1;
        seq += static_cast<uint64_t>(k);
    }
    const uint64_t stop = kStop;
    std::memcpy(bufs[0], &stop, sizeof stop);
    if (!ep->send(bufs[0], spec.msg_size)) return set_err(res, ep->error()), 1;
    res.end_ns = now_ns();
    res.stalls = Backoff::stalls;
    return 0;
}

// A blocking consumer leaves at its first stop message (each producer sends
// one, and there are as many producers as consumers, so each takes exactly
// one). A polling consumer leaves when the channel is empty and every stop
// has been taken: by FIFO order every data message was taken before.
int consume(Transport &t, const Spec &spec, int producers, Control &ctl, ProcResult &res,
            const std::function<void()> &go) {
    std::string err;
    auto ep = t.open(&err);
    if (!ep) return set_err(res, err), 1;
    const int batch = std::min(t.batch(), kMaxBatch);
    alignas(64) static char data[kMaxBatch][kMaxMsg];
    RecvBuf bufs[kMaxBatch];
    for (int i = 0; i < kMaxBatch; ++i) bufs[i] = RecvBuf{data[i], sizeof data[i], 0};
    uint64_t next[kMaxProcs] = {};
    const bool blocking = ep->blocking();
    go();
    res.start_ns = now_ns();
    Backoff backoff;
    for (bool done = false; !done;) {
        int n = ep->recv(bufs, batch);
        if (n < 0) return set_err(res, ep->error()), 1;
        if (n == 0) {
            if (ctl.stops.load(std::memory_order_acquire) == producers) break;
            backoff.pause();
            continue;
        }
        backoff.reset();
        for (int i = 0; i < n; ++i) {
            if (bufs[i].len != spec.msg_size) return set_err(res, "message of wrong length"), 1;
            uint64_t w;
            std::memcpy(&w, data[i], sizeof w);
            if (w == kStop) {
                ctl.stops.fetch_add(1, std::memory_order_acq_rel);
                if (blocking) done = true;
                continue;
            }
            const int p = static_cast<int>(w >> 56);
            const uint64_t seq = w & ((1ull << 56) - 1);
            if (p >= producers) return set_err(res, "message from an unknown producer"), 1;
            if (seq < next[p]) ++res.out_of_order;
            next[p] = seq + 1;
            ++res.msgs;
            res.seq_sum += seq;
        }
    }
    res.end_ns = now_ns();
    res.stalls = Backoff::stalls;
    return 0;
}

}  // namespace

ThroughputRun run_throughput(Transport &t, const Spec &spec, int producers, int consumers,
                             uint64_t total, const std::vector<int> &cpus, double timeout_s) {
    ThroughputRun run;
    if (producers + consumers > kMaxProcs || cpus.size() < 2 || spec.msg_size < 8 ||
        spec.msg_size > kMaxMsg) {
        run.err = "bad parameters";
        return run;
    }
    if (!t.create(spec, &run.err)) return run;
    Control *ctl = map_shared<Control>();
    const uint64_t per_producer = total / static_cast<uint64_t>(producers);
    const bool one_each = producers == 1 && consumers == 1;

    std::vector<Child> kids;
    for (int i = 0; i < producers; ++i)
        kids.push_back({cpus[i % 2], [&, i](const std::function<void()> &go) {
                            return produce(t, spec, i, per_producer, ctl->proc[i], go);
                        }});
    for (int j = 0; j < consumers; ++j) {
        const int slot = producers + j;
        kids.push_back(
            {cpus[(one_each ? j + 1 : j) % 2], [&, slot](const std::function<void()> &go) {
                 return consume(t, spec, producers, *ctl, ctl->proc[slot], go);
             }});
    }
    std::string err;
    Interference load;
    const bool ok = run_children(kids, timeout_s, &err, &load);
    run.others = load.others_share;
    t.destroy();

    uint64_t first = ~0ull, last = 0, msgs = 0, sum = 0, disorder = 0;
    uint64_t full = 0, empty = 0;
    for (int i = 0; i < producers + consumers; ++i) {
        const ProcResult &r = ctl->proc[i];
        if (r.err[0]) err += std::string(r.err) + "; ";
        if (i < producers) {
            first = std::min(first, r.start_ns);
            full += r.stalls;
        } else {
            empty += r.stalls;
            last = std::max(last, r.end_ns);
            msgs += r.msgs;
            sum += r.seq_sum;
            disorder += r.out_of_order;
        }
    }
    const uint64_t expect_sum =
        static_cast<uint64_t>(producers) * (per_producer * (per_producer - 1) / 2);
    const uint64_t expect_msgs = per_producer * static_cast<uint64_t>(producers);
    if (ok && err.empty()) {
        if (msgs != expect_msgs || sum != expect_sum)
            err = "lost or duplicated messages: got " + std::to_string(msgs) + " of " +
                  std::to_string(expect_msgs);
        else if (disorder)
            err = std::to_string(disorder) + " messages out of per-producer order";
    }
    unmap_shared(ctl);
    if (!ok || !err.empty()) {
        run.err = err.empty() ? "failed" : err;
        return run;
    }
    run.ok = true;
    run.seconds = static_cast<double>(last - first) / 1e9;
    run.msgs_per_s = static_cast<double>(msgs) / run.seconds;
    run.full_per_msg = static_cast<double>(full) / static_cast<double>(msgs);
    run.empty_per_msg = static_cast<double>(empty) / static_cast<double>(msgs);
    return run;
}

}  // namespace cqb
