// cqueue demo: producers and consumers as separate programs on one queue;
// part way through, SIGKILL one consumer and one producer, recover, restart
// them, and at the end check from the consumers' records that nothing was
// delivered twice, that each producer's order held within each consumer, and
// that every message arrived except what the kills explain.
//
// This file: the options. The parent's run is demo_session.cpp, the worker
// programs demo_worker.cpp, the files they share demo_shared.hpp, the end
// check demo_verify.cpp and the report demo_report.cpp.
#include <optional>
#include <string>

#include "args.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "demo_session.hpp"

namespace cqcli {

namespace {

constexpr std::string_view kDemoHelp =
    "usage: cqueue demo [--producers P] [--consumers C] [--messages N] [--seconds S]\n"
    "\n"
    "Create a fresh queue and run P producer and C consumer processes on it, each a\n"
    "separate program (this one, exec'd as 'cqueue __demo-worker') that opens the\n"
    "queue by name. Producers send (producer, seq) messages; consumers record what\n"
    "they receive in files the demo reads. A live progress line shows the queue\n"
    "length, messages sent and received, and the rate.\n"
    "\n"
    "At 30% of the messages sent, consumer 0 is killed with SIGKILL; at 50%,\n"
    "producer 0. After each kill the demo calls cq_recover and restarts the\n"
    "worker. A producer stores its high-water mark in a shared file around every\n"
    "enqueue, so its restart resumes after the last message it may have enqueued\n"
    "and never sends one twice; a message it was enqueuing when killed is 'in\n"
    "doubt' (delivered or not). A killed consumer loses the messages it had\n"
    "dequeued but not yet recorded (at most one batch of 16).\n"
    "\n"
    "At the end it verifies: no message delivered twice, each producer's order\n"
    "kept within each consumer, and every message delivered except the in-doubt\n"
    "ones and the killed consumer's unrecorded ones. The queue is removed.\n"
    "\n"
    "  --producers P   producer processes (default 2, at most 64)\n"
    "  --consumers C   consumer processes (default 2, at most 64)\n"
    "  --messages N    messages in all (default 200000)\n"
    "  --seconds S     spread the sending over about S seconds (default 3);\n"
    "                  0 = as fast as possible\n"
    "\n"
    "Exit codes: 0 PASS, 1 library or system error in the demo itself (or\n"
    "interrupted), 2 usage error, 4 FAIL: verification failed, a worker failed by\n"
    "itself, or the run did not finish within --seconds + 30 s. On FAIL the record\n"
    "files are kept for inspection.\n";

}  // namespace

int run_demo(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {
        {"producers", 0, ArgKind::value},
        {"consumers", 0, ArgKind::value},
        {"messages", 0, ArgKind::value},
        {"seconds", 0, ArgKind::value},
    };
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help")) return print_help(kDemoHelp);
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    demo::DemoConfig cfg;
    cfg.producers = args.u32("producers", 2, 1, demo::kMaxProducers);
    cfg.consumers = args.u32("consumers", 2, 1, demo::kMaxConsumers);
    cfg.messages = args.u64("messages", 200'000, cfg.producers, 50'000'000);
    cfg.seconds = 3;
    if (std::optional<std::string> v = args.value("seconds")) {
        std::optional<int64_t> ns = parse_seconds_ns(*v);
        if (!ns || *ns > 3600'000'000'000)
            throw UsageError("--seconds must be from 0 to 3600, not '" + *v + "'");
        cfg.seconds = static_cast<double>(*ns) / 1e9;
    }
    demo::DemoSession session(cfg);
    return session.run();
}

}  // namespace cqcli
