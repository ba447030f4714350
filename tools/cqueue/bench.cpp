// cqueue bench: option parsing and the report header; the measurements are in
// bench_throughput.cpp and bench_latency.cpp.
#include "bench.hpp"

#include <unistd.h>

#include <cstdio>

#include "args.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "proc.hpp"

namespace cqcli {

namespace {

constexpr std::string_view kBenchHelp =
    "usage: cqueue bench [--name NAME] [--size BYTES] [--messages N] [--producers P]\n"
    "                    [--consumers C] [--batch B] [--latency]\n"
    "\n"
    "Throughput: create a private queue, fork P producer and C consumer processes\n"
    "(each opens the queue itself), pin them round-robin to the usable CPUs, move N\n"
    "messages of BYTES bytes through the queue in batches of B, and print messages,\n"
    "seconds, msgs/s and MB/s (payload, 10^6 bytes). A progress line is shown on\n"
    "stderr when it is a terminal. The queue is removed at the end.\n"
    "\n"
    "Latency (--latency): ping-pong between two pinned processes over two queues;\n"
    "prints min, median, p99, max and mean round-trip times in nanoseconds for three\n"
    "ways of receiving: spinning on cq_dequeue; cq_dequeue_wait (which spins a\n"
    "little before it sleeps on the futex); and cq_dequeue_wait with a 100 us pause\n"
    "before each ping, so that the echo process is asleep and is woken by the futex.\n"
    "\n"
    "  --name NAME      queue name (default cqueue-bench-PID); must not exist\n"
    "  --size BYTES     message size (default 64; latency: at least 8)\n"
    "  --messages N     messages to move (default 10000000); latency: round trips\n"
    "                   per mode (default 20000)\n"
    "  --producers P    producer processes (default 1, at most 128)\n"
    "  --consumers C    consumer processes (default 1, at most 128)\n"
    "  --batch B        messages per cq_enqueue_batch/cq_dequeue_batch (default 32)\n"
    "  --latency        measure round-trip latency instead of throughput\n"
    "\n"
    "Exit codes: 0 ok, 1 library or system error, 2 usage error.\n";

}  // namespace

void print_bench_header(const std::string &what, const std::string &command) {
    std::printf("cqueue bench: %s\n", what.c_str());
    std::printf("machine:   %s\n", machine_summary().c_str());
    std::printf("library:   libcqueue %s\n", cq_version());
    std::printf("reproduce: %s\n\n", command.c_str());
    std::fflush(stdout);
}

int run_bench(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {
        {"name", 0, ArgKind::value},      {"size", 0, ArgKind::value},
        {"messages", 0, ArgKind::value},  {"producers", 0, ArgKind::value},
        {"consumers", 0, ArgKind::value}, {"batch", 0, ArgKind::value},
        {"latency", 0, ArgKind::flag},
    };
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help")) return print_help(kBenchHelp);
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    const bool latency = args.has("latency");
    BenchConfig cfg;
    cfg.name = args.value("name").value_or("cqueue-bench-" + std::to_string(getpid()));
    cfg.size = args.u32("size", 64, latency ? 8 : 1, CQ_MAX_MESSAGE_SIZE);
    cfg.messages = args.u64("messages", latency ? 20'000 : 10'000'000, 1, UINT64_MAX / 2);
    cfg.producers = args.u32("producers", 1, 1, 128);
    cfg.consumers = args.u32("consumers", 1, 1, 128);
    cfg.batch = args.u32("batch", 32, 1, 4096);
    cfg.command = command_line(argc, argv);
    return latency ? run_latency(cfg) : run_throughput(cfg);
}

}  // namespace cqcli
