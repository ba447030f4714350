// Round-trip latency: a pinger and a ponger process, pinned to different
// CPUs, bounce one message over two channels (ping -> there, pong -> back).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/xproc/transport.hpp"

namespace cqb {

struct LatencyRun {
    bool ok = false;
    double median_ns = 0, p99_ns = 0, min_ns = 0;
    double others = 0;  // share of the CPUs other processes took (Interference)
    std::string err;
};

// there and back must be two fresh transports of the same kind. The first
// `warmup` round trips are not recorded. A non-blocking endpoint is polled
// by spinning (the two processes have a CPU each).
LatencyRun run_latency(Transport &there, Transport &back, const Spec &spec, uint64_t round_trips,
                       uint64_t warmup, const std::vector<int> &cpus, double timeout_s);

// The floor under any shared-memory round trip here: two pinned processes
// bounce one cache line (a counter each increments in turn). ok/median/p99
// as above.
LatencyRun run_cacheline_pingpong(uint64_t round_trips, const std::vector<int> &cpus,
                                  double timeout_s);

}  // namespace cqb
