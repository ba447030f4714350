// The administrative commands: create, recover, rm.
#include <cqueue/cqueue.h>

#include <cstdio>
#include <optional>
#include <string>

#include "args.hpp"
#include "cli.hpp"
#include "commands.hpp"

namespace cqcli {

namespace {

constexpr std::string_view kCreateHelp =
    "usage: cqueue create NAME [--capacity N] [--max-size BYTES] [--mode OCTAL] [--excl]\n"
    "\n"
    "Create the queue NAME. Without --excl an existing queue is accepted as it is\n"
    "(its geometry is kept; a note is printed if it differs from the options).\n"
    "\n"
    "  --capacity N       messages the queue holds (default 65536; 1..4294967294)\n"
    "  --max-size BYTES   largest message in bytes (default 256; 1..16777216)\n"
    "  --mode OCTAL       permission bits of the shared memory or file (default 0600)\n"
    "  --excl             fail (exit 1) if the queue already exists\n"
    "\n"
    "Prints what it did on stdout. Exit codes: 0 ok, 1 library error, 2 usage error.\n";

constexpr std::string_view kRecoverHelp =
    "usage: cqueue recover NAME\n"
    "\n"
    "Return the nodes held by dead processes (killed inside an operation) to the\n"
    "free list, and print how many were reclaimed. The tool's own handle does not\n"
    "recover when it opens the queue, so the number is what this pass found. A\n"
    "message a dead consumer had taken but not copied out is lost; one a dead\n"
    "producer had not linked yet was never enqueued.\n"
    "\n"
    "Exit codes: 0 ok, 1 library error (e.g. 'busy': a live process stayed inside\n"
    "an operation, try again), 2 usage error.\n";

constexpr std::string_view kRmHelp =
    "usage: cqueue rm NAME...\n"
    "\n"
    "Remove the names. Processes that have a queue open keep using it until they\n"
    "close it. Exit codes: 0 ok, 1 library error (e.g. no such queue), 2 usage error.\n";

}  // namespace

int run_create(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {
        {"capacity", 0, ArgKind::value},
        {"max-size", 0, ArgKind::value},
        {"mode", 0, ArgKind::value},
        {"excl", 0, ArgKind::flag},
    };
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help")) return print_help(kCreateHelp);
    const std::string &name = args.single("NAME");
    cq_queue_options o = CQ_QUEUE_OPTIONS_INIT;
    o.capacity = args.u32("capacity", CQ_DEFAULT_CAPACITY, 1, CQ_MAX_CAPACITY);
    o.max_message_size = args.u32("max-size", CQ_DEFAULT_MAX_MESSAGE_SIZE, 1, CQ_MAX_MESSAGE_SIZE);
    if (std::optional<std::string> m = args.value("mode")) {
        std::optional<uint32_t> mode = parse_octal_mode(*m);
        if (!mode)
            throw UsageError("--mode must be octal permission bits like 0640, not '" + *m + "'");
        o.mode = *mode;
    }
    const bool excl = args.has("excl");

    // Create exclusively first, so that "created" can be told from "existed".
    cq_queue *raw = nullptr;
    o.flags = CQ_CREATE | CQ_EXCL;
    int rc = cq_open(name.c_str(), &o, &raw);
    bool created = rc == CQ_OK;
    if (rc == CQ_EEXIST && !excl) {
        o.flags = CQ_CREATE;
        rc = cq_open(name.c_str(), &o, &raw);
    }
    check(rc);
    QueuePtr q(raw);
    cq_queue_stats s = queue_stats(q.get());
    if (created) {
        std::printf("created queue %s: capacity %u messages of up to %u bytes, mode %04o\n",
                    name.c_str(), s.capacity, s.max_message_size, o.mode);
    } else {
        std::printf("queue %s exists: capacity %u messages of up to %u bytes\n", name.c_str(),
                    s.capacity, s.max_message_size);
        if ((args.has("capacity") && s.capacity != o.capacity) ||
            (args.has("max-size") && s.max_message_size != o.max_message_size))
            std::fprintf(stderr,
                         "cqueue create: note: %s exists with a different geometry; it was left "
                         "unchanged\n",
                         name.c_str());
    }
    return kExitOk;
}

int run_recover(int argc, char **argv) {
    Args args(argc, argv, 2, {});
    if (args.has("help")) return print_help(kRecoverHelp);
    const std::string &name = args.single("NAME");
    QueuePtr q = open_queue(name, CQ_NO_RECOVER);
    uint64_t reclaimed = 0;
    check(cq_recover(q.get(), &reclaimed));
    std::printf("%llu\n", static_cast<unsigned long long>(reclaimed));
    return kExitOk;
}

int run_rm(int argc, char **argv) {
    Args args(argc, argv, 2, {});
    if (args.has("help")) return print_help(kRmHelp);
    if (args.positional().empty()) throw UsageError("missing NAME");
    int status = kExitOk;
    for (const std::string &name : args.positional()) {
        int rc = cq_unlink(name.c_str());
        if (rc < 0) {
            std::string msg = lib_message(rc);
            std::fprintf(stderr, "cqueue rm: %s\n", msg.c_str());
            status = exit_code_for(rc);
        }
    }
    return status;
}

}  // namespace cqcli
