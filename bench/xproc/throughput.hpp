// Throughput: P producer and C consumer processes on one channel.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/xproc/transport.hpp"

namespace cqb {

struct ThroughputRun {
    bool ok = false;
    double msgs_per_s = 0;
    double seconds = 0;
    double others = 0;  // share of the CPUs other processes took (Interference)
    // Polling transports: backoff pauses per message because the channel was
    // full (producers) or empty (consumers). Mostly-empty means the consumer
    // waits on every message (lines ping-pong); mostly-full means it streams.
    double full_per_msg = 0, empty_per_msg = 0;
    std::string err;
};

// Producer i runs on cpus[i % 2], consumer j on cpus[(j + 1) % 2] when there
// is one of each, else on cpus[j % 2]: 1P1C puts them on different CPUs,
// 2P2C one producer and one consumer on each. total messages are split
// evenly between producers. The time runs from the first producer's start
// to the last consumer's end; every message is checked (count, per-producer
// order, sum of sequence numbers).
ThroughputRun run_throughput(Transport &t, const Spec &spec, int producers, int consumers,
                             uint64_t total, const std::vector<int> &cpus, double timeout_s);

}  // namespace cqb
