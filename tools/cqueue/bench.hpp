// cqueue bench: the two measurements, each between real processes that open
// the queue themselves after fork (a handle is never used across fork).
#pragma once

#include <cstdint>
#include <string>

namespace cqcli {

struct BenchConfig {
    std::string name;  // queue name (latency: NAME-ping and NAME-pong)
    uint32_t size = 64;
    uint64_t messages = 10'000'000;  // latency: round trips
    uint32_t producers = 1;
    uint32_t consumers = 1;
    uint32_t batch = 32;
    std::string command;  // the command line, to print how to reproduce
};

int run_throughput(const BenchConfig &cfg);  // bench_throughput.cpp
int run_latency(const BenchConfig &cfg);     // bench_latency.cpp

// Prints the header every bench report starts with: what, machine, command.
void print_bench_header(const std::string &what, const std::string &command);

}  // namespace cqcli
