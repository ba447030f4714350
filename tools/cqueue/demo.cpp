// cqueue demo: two parts, each with workers as separate programs, a SIGKILL
// part way through, a restart and an end check.
//
// Queue part: producers and consumers on one queue; SIGKILL one consumer and
// one producer, recover, restart them, and at the end check from the
// consumers' records that nothing was delivered twice, that each producer's
// order held within each consumer, and that every message arrived except what
// the kills explain. The parent's run is demo_session.cpp, the worker programs
// demo_worker.cpp, the files they share demo_shared.hpp, the end check
// demo_verify.cpp and the report demo_report.cpp.
//
// Pub/sub part: publishers and durable subscribers on a broker directory;
// SIGKILL one subscriber, restart it with the same durable id, and check that
// every subscriber got every record, with duplicates only for what the killed
// one had not acknowledged. demo_broker_session.cpp, demo_broker_worker.cpp,
// demo_broker_shared.hpp, demo_broker_verify.cpp.
//
// Both parts' sessions derive from one skeleton, demo_part.cpp: the temp
// directory, spawning and reaping the workers, the kills, the progress line
// and the wait; their workers share demo_part_shared.hpp (stop flag, record
// files, pacing).
//
// This file: the options.
#include <cstdio>
#include <optional>
#include <string>

#include "args.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "demo_broker_session.hpp"
#include "demo_part.hpp"
#include "demo_session.hpp"

namespace cqcli {

namespace {

constexpr std::string_view kDemoHelp =
    "usage: cqueue demo [--part queue|broker|all] [--seconds S]\n"
    "                   [--producers P] [--consumers C] [--messages N]\n"
    "                   [--publishers P] [--subscribers S] [--records N]\n"
    "\n"
    "Runs the queue part, then the pub/sub part (--part chooses one). In both, the\n"
    "workers are separate programs (this one, exec'd as 'cqueue __demo-worker' or\n"
    "'cqueue __broker-demo-worker'), a live progress line shows the counts and the\n"
    "rate, and a report ends with PASS or FAIL.\n"
    "\n"
    "Queue part. Create a fresh queue and run P producer and C consumer processes\n"
    "on it that open it by name. Producers send (producer, seq) messages; consumers\n"
    "record what they receive in files the demo reads.\n"
    "At 30% of the messages sent, consumer 0 is killed with SIGKILL; at 50%,\n"
    "producer 0. After each kill the demo calls cq_recover and restarts the\n"
    "worker. A producer stores its high-water mark in a shared file around every\n"
    "enqueue, so its restart resumes after the last message it may have enqueued\n"
    "and never sends one twice; a message it was enqueuing when killed is 'in\n"
    "doubt' (delivered or not). A killed consumer loses the messages it had\n"
    "dequeued but not yet recorded (at most one batch of 16).\n"
    "At the end it verifies: no message delivered twice, each producer's order\n"
    "kept within each consumer, and every message delivered except the in-doubt\n"
    "ones and the killed consumer's unrecorded ones. The queue is removed.\n"
    "\n"
    "Pub/sub part. In a fresh broker directory (1 MiB segments, so the topic\n"
    "rolls), P publisher processes publish 'publisher P seq N' records to the topic\n"
    "demo.events and S durable subscriber processes (pattern demo.*, ids\n"
    "demo-sub-0, ...) record each record they get in a file, then acknowledge it.\n"
    "At 40% of the records published, demo-sub-0 is killed with SIGKILL and\n"
    "restarted with the same id: it resumes after its last acknowledgement, so\n"
    "the records it had recorded but not acknowledged come again.\n"
    "At the end it verifies, per subscriber: every record received; offsets dense\n"
    "and rising within each run, the restart starting at the acknowledged offset;\n"
    "the same record at each offset for everyone; duplicates only for the killed\n"
    "subscriber's records after its last ack; every id acknowledged everything.\n"
    "The directory is removed.\n"
    "\n"
    "  --part PART       queue, broker or all (default all)\n"
    "  --seconds S       spread the sending of each part over about S seconds\n"
    "                    (default 3); 0 = as fast as possible\n"
    "  --producers P     queue: producer processes (default 2, at most 64)\n"
    "  --consumers C     queue: consumer processes (default 2, at most 64)\n"
    "  --messages N      queue: messages in all (default 200000)\n"
    "  --publishers P    pub/sub: publisher processes (default 3, at most 64)\n"
    "  --subscribers S   pub/sub: subscriber processes (default 3, at most 64)\n"
    "  --records N       pub/sub: records in all (default 30000)\n"
    "\n"
    "Exit codes: 0 PASS (every part run), 1 library or system error in the demo\n"
    "itself (or interrupted), 2 usage error, 4 FAIL: verification failed, a worker\n"
    "failed by itself, or a part did not finish within --seconds + 30 s. On FAIL\n"
    "the record files (and the broker directory) are kept for inspection.\n";

}  // namespace

int run_demo(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {
        {"part", 0, ArgKind::value},        {"seconds", 0, ArgKind::value},
        {"producers", 0, ArgKind::value},   {"consumers", 0, ArgKind::value},
        {"messages", 0, ArgKind::value},    {"publishers", 0, ArgKind::value},
        {"subscribers", 0, ArgKind::value}, {"records", 0, ArgKind::value},
    };
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help")) return print_help(kDemoHelp);
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    const std::string part = args.value("part").value_or("all");
    if (part != "queue" && part != "broker" && part != "all")
        throw UsageError("--part must be queue, broker or all, not '" + part + "'");
    double seconds = 3;
    if (std::optional<std::string> v = args.value("seconds")) {
        std::optional<int64_t> ns = parse_seconds_ns(*v);
        if (!ns || *ns > 3600'000'000'000)
            throw UsageError("--seconds must be from 0 to 3600, not '" + *v + "'");
        seconds = static_cast<double>(*ns) / 1e9;
    }
    demo_part::PartConfig queue;  // producers, consumers, messages
    queue.senders = args.u32("producers", 2, 1, demo::kMaxProducers);
    queue.receivers = args.u32("consumers", 2, 1, demo::kMaxConsumers);
    queue.total = args.u64("messages", 200'000, queue.senders, 50'000'000);
    queue.seconds = seconds;
    demo_part::PartConfig pubsub;  // publishers, subscribers, records
    pubsub.senders = args.u32("publishers", 3, 1, broker_demo::kMaxPublishers);
    pubsub.receivers = args.u32("subscribers", 3, 1, broker_demo::kMaxSubscribers);
    pubsub.total = args.u64("records", 30'000, pubsub.senders, 10'000'000);
    pubsub.seconds = seconds;

    int status = kExitOk;
    if (part != "broker") {
        demo::DemoSession session(queue);
        status = session.run();
    }
    if (part != "queue") {
        if (part == "all") std::printf("\n");
        broker_demo::BrokerDemoSession session(pubsub);
        const int s = session.run();
        if (s != kExitOk) status = s;
    }
    return status;
}

}  // namespace cqcli
