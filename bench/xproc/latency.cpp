#include "bench/xproc/latency.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "bench/xproc/procs.hpp"

namespace cqb {
namespace {

constexpr size_t kMaxMsg = 256;
constexpr uint64_t kStop = ~0ull;

struct Control {
    double median_ns = 0, p99_ns = 0, min_ns = 0;
    char err[2][160] = {};
};

void summarize(std::vector<uint32_t> &samples, Control &ctl) {
    std::sort(samples.begin(), samples.end());
    ctl.min_ns = samples.front();
    ctl.median_ns = samples[samples.size() / 2];
    ctl.p99_ns = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
}

// Receives one message, spinning on a non-blocking endpoint.
bool recv_one(Endpoint &ep, RecvBuf &b) {
    for (;;) {
        int n = ep.recv(&b, 1);
        if (n > 0) return true;
        if (n < 0) return false;
        cpu_relax();
    }
}

int ping(Transport &there, Transport &back, const Spec &spec, uint64_t n, uint64_t warmup,
         Control &ctl, const std::function<void()> &go) {
    std::string err;
    auto out = there.open(&err);
    auto in = out ? back.open(&err) : nullptr;
    if (!in) return std::snprintf(ctl.err[0], sizeof ctl.err[0], "%s", err.c_str()), 1;
    alignas(64) char msg[kMaxMsg], reply[kMaxMsg];
    std::memset(msg, 'l', sizeof msg);
    RecvBuf b{reply, sizeof reply, 0};
    std::vector<uint32_t> samples;
    samples.reserve(n);
    go();
    for (uint64_t i = 0; i < warmup + n; ++i) {
        std::memcpy(msg, &i, sizeof i);
        const uint64_t t0 = now_ns();
        if (!out->send(msg, spec.msg_size) || !recv_one(*in, b)) {
            const std::string &e = out->error().empty() ? in->error() : out->error();
            return std::snprintf(ctl.err[0], sizeof ctl.err[0], "%s", e.c_str()), 1;
        }
        const uint64_t dt = now_ns() - t0;
        uint64_t echo;
        std::memcpy(&echo, reply, sizeof echo);
        if (echo != i) return std::snprintf(ctl.err[0], sizeof ctl.err[0], "wrong echo"), 1;
        if (i >= warmup) samples.push_back(static_cast<uint32_t>(std::min<uint64_t>(dt, ~0u)));
    }
    std::memcpy(msg, &kStop, sizeof kStop);
    out->send(msg, spec.msg_size);
    summarize(samples, ctl);
    return 0;
}

int pong(Transport &there, Transport &back, const Spec &spec, Control &ctl,
         const std::function<void()> &go) {
    std::string err;
    auto in = there.open(&err);
    auto out = in ? back.open(&err) : nullptr;
    if (!out) return std::snprintf(ctl.err[1], sizeof ctl.err[1], "%s", err.c_str()), 1;
    alignas(64) char msg[kMaxMsg];
    RecvBuf b{msg, sizeof msg, 0};
    go();
    for (;;) {
        if (!recv_one(*in, b))
            return std::snprintf(ctl.err[1], sizeof ctl.err[1], "%s", in->error().c_str()), 1;
        uint64_t w;
        std::memcpy(&w, msg, sizeof w);
        if (w == kStop) return 0;
        if (!out->send(msg, spec.msg_size))
            return std::snprintf(ctl.err[1], sizeof ctl.err[1], "%s", out->error().c_str()), 1;
    }
}

struct alignas(64) Line {
    std::atomic<uint64_t> turn{0};
};

}  // namespace

LatencyRun run_cacheline_pingpong(uint64_t round_trips, const std::vector<int> &cpus,
                                  double timeout_s) {
    LatencyRun run;
    if (cpus.size() < 2 || round_trips == 0) {
        run.err = "bad parameters";
        return run;
    }
    Control *ctl = map_shared<Control>();
    Line *line = map_shared<Line>();
    const uint64_t n = round_trips;
    std::vector<Child> kids;
    // Odd values are the ponger's turn, even ones the pinger's.
    kids.push_back({cpus[0], [&](const std::function<void()> &go) {
                        std::vector<uint32_t> samples;
                        samples.reserve(n);
                        go();
                        for (uint64_t i = 0; i < n; ++i) {
                            const uint64_t t0 = now_ns();
                            line->turn.store(2 * i + 1, std::memory_order_release);
                            while (line->turn.load(std::memory_order_acquire) != 2 * i + 2)
                                cpu_relax();
                            samples.push_back(static_cast<uint32_t>(now_ns() - t0));
                        }
                        summarize(samples, *ctl);
                        return 0;
                    }});
    kids.push_back({cpus[1], [&](const std::function<void()> &go) {
                        go();
                        for (uint64_t i = 0; i < n; ++i) {
                            while (line->turn.load(std::memory_order_acquire) != 2 * i + 1)
                                cpu_relax();
                            line->turn.store(2 * i + 2, std::memory_order_release);
                        }
                        return 0;
                    }});
    std::string err;
    Interference load;
    if (run_children(kids, timeout_s, &err, &load)) {
        run.others = load.others_share;
        run.ok = true;
        run.median_ns = ctl->median_ns;
        run.p99_ns = ctl->p99_ns;
        run.min_ns = ctl->min_ns;
    } else {
        run.err = err;
    }
    unmap_shared(line);
    unmap_shared(ctl);
    return run;
}

LatencyRun run_latency(Transport &there, Transport &back, const Spec &spec, uint64_t round_trips,
                       uint64_t warmup, const std::vector<int> &cpus, double timeout_s) {
    LatencyRun run;
    if (cpus.size() < 2 || spec.msg_size < 8 || spec.msg_size > kMaxMsg || round_trips == 0) {
        run.err = "bad parameters";
        return run;
    }
    if (!there.create(spec, &run.err)) return run;
    if (!back.create(spec, &run.err)) {
        there.destroy();
        return run;
    }
    Control *ctl = map_shared<Control>();
    std::vector<Child> kids;
    kids.push_back({cpus[0], [&](const std::function<void()> &go) {
                        return ping(there, back, spec, round_trips, warmup, *ctl, go);
                    }});
    kids.push_back({cpus[1], [&](const std::function<void()> &go) {
                        return pong(there, back, spec, *ctl, go);
                    }});
    std::string err;
    Interference load;
    const bool ok = run_children(kids, timeout_s, &err, &load);
    run.others = load.others_share;
    there.destroy();
    back.destroy();
    for (const char *e : {ctl->err[0], ctl->err[1]})
        if (e[0]) err += std::string(e) + "; ";
    if (ok && err.empty()) {
        run.ok = true;
        run.median_ns = ctl->median_ns;
        run.p99_ns = ctl->p99_ns;
        run.min_ns = ctl->min_ns;
    } else {
        run.err = err.empty() ? "failed" : err;
    }
    unmap_shared(ctl);
    return run;
}

}  // namespace cqb
