// cqueue: command-line tool for libcqueue queues and brokers. Dispatches to
// the commands and turns their errors into messages on stderr and the
// documented exit codes.
#include <cqueue/cqueue.h>

#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "cli.hpp"
#include "commands.hpp"

namespace cqcli {
namespace {

constexpr Command kCommands[] = {
    {"create", "create a queue (or check that it exists)", run_create, false},
    {"send", "enqueue messages from the arguments or from stdin lines", run_send, false},
    {"recv", "dequeue messages and print one per line", run_recv, false},
    {"stat", "show a queue's counters (table or JSON)", run_stat, false},
    {"recover", "return nodes held by dead processes to the free list", run_recover, false},
    {"rm", "remove a queue's name", run_rm, false},
    {"pub", "publish records to a broker topic from the arguments or stdin lines", run_pub, false},
    {"sub", "print a broker topic pattern's records; durable subscribers resume", run_sub, false},
    {"topics", "list a broker's topics: end offset, segments, bytes (table or JSON)", run_topics,
     false},
    {"lag", "show each durable subscriber's acknowledged offset and lag", run_lag, false},
    {"bench", "measure throughput (or round-trip latency) between processes", run_bench, false},
    {"demo", "run queue and pub/sub workers, kill and restart some, verify delivery", run_demo,
     false},
    {"__demo-worker", "internal: one producer or consumer of the demo", run_demo_worker, true},
    {"__broker-demo-worker", "internal: one publisher or subscriber of the demo",
     run_broker_demo_worker, true},
};

void print_usage(std::FILE *out) {
    std::fprintf(out,
                 "usage: cqueue [--version] [--help] COMMAND [ARGS...]\n"
                 "\n"
                 "Commands:\n");
    for (const Command &c : kCommands)
        if (!c.hidden)
            std::fprintf(out, "  %-9.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                         static_cast<int>(c.summary.size()), c.summary.data());
    std::fprintf(out,
                 "\n"
                 "NAME is a POSIX shared-memory name ([A-Za-z0-9._-], up to 200 characters)\n"
                 "or, if it contains '/', the path of a file. DIR is a broker directory;\n"
                 "TOPIC is tokens of [A-Za-z0-9_-] joined by '.', PATTERN may use '*' for a\n"
                 "token and end in '.>'.\n"
                 "\n"
                 "Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 timed out, empty or\n"
                 "full (nothing left to receive), 4 verification failed (demo).\n"
                 "Run 'cqueue COMMAND --help' for the options of a command.\n");
}

int dispatch(const Command &cmd, int argc, char **argv) {
    const std::string name(cmd.name);
    try {
        return cmd.run(argc, argv);
    } catch (const UsageError &e) {
        std::fprintf(stderr, "cqueue %s: %s\nTry 'cqueue %s --help'.\n", name.c_str(), e.what(),
                     name.c_str());
        return kExitUsage;
    } catch (const LibError &e) {
        std::fprintf(stderr, "cqueue %s: %s\n", name.c_str(), describe(e).c_str());
        return exit_code_for(e.code);
    } catch (const SysError &e) {
        std::fprintf(stderr, "cqueue %s: %s\n", name.c_str(), e.what());
        return kExitFailed;
    } catch (const std::bad_alloc &) {
        std::fprintf(stderr, "cqueue %s: out of memory\n", name.c_str());
        return kExitFailed;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cqueue %s: %s\n", name.c_str(), e.what());
        return kExitFailed;
    }
}

}  // namespace

std::span<const Command> commands() {
    return kCommands;
}

int print_help(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
}

}  // namespace cqcli

int main(int argc, char **argv) {
    using namespace cqcli;
    if (argc < 2) {
        print_usage(stderr);
        return kExitUsage;
    }
    std::string_view first = argv[1];
    if (first == "--help" || first == "-h" || first == "help") {
        print_usage(stdout);
        return kExitOk;
    }
    if (first == "--version") {
        std::printf("cqueue %s (libcqueue %s)\n", CQ_VERSION_STRING, cq_version());
        return kExitOk;
    }
    for (const Command &c : commands())
        if (c.name == first) return dispatch(c, argc, argv);
    std::fprintf(stderr, "cqueue: unknown command '%s'\nTry 'cqueue --help'.\n", argv[1]);
    return kExitUsage;
}
