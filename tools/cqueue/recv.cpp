// cqueue recv: dequeue messages and print one per line.
#include <cqueue/cqueue.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "args.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "wait_option.hpp"

namespace cqcli {

namespace {

constexpr std::string_view kRecvHelp =
    "usage: cqueue recv NAME [-n COUNT] [--wait[=SECONDS]]\n"
    "\n"
    "Dequeue up to COUNT messages and print each on its own line on stdout (the\n"
    "bytes as they are, then a newline).\n"
    "\n"
    "  -n, --count COUNT  how many messages (default 1); 0 = until the queue is\n"
    "                     empty (with --wait: until a wait times out; with a bare\n"
    "                     --wait, forever)\n"
    "  --wait[=SECONDS]   while the queue is empty, wait for a message (forever, or\n"
    "                     up to SECONDS for each message)\n"
    "\n"
    "Exit codes: 0 COUNT messages received (with -n 0: at least one), 1 library\n"
    "error, 2 usage error, 3 the queue was empty or the wait timed out first (the\n"
    "messages received until then are printed).\n";

}  // namespace

int run_recv(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {
        {"count", 'n', ArgKind::value},
        {"wait", 0, ArgKind::optional_value},
    };
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help")) return print_help(kRecvHelp);
    const std::string &name = args.single("NAME");
    const uint64_t count = args.u64("count", 1, 0, UINT64_MAX);
    const int64_t timeout = wait_timeout_ns(args);
    QueuePtr q = open_queue(name);
    std::vector<char> buf(queue_stats(q.get()).max_message_size);
    // Waiting: show each message as it comes, not when the buffer fills.
    const bool flush_each = timeout != CQ_NO_WAIT || isatty(STDOUT_FILENO);

    uint64_t got = 0;
    while (count == 0 || got < count) {
        size_t len = 0;
        int rc = timeout == CQ_NO_WAIT
                     ? cq_dequeue(q.get(), buf.data(), buf.size(), &len)
                     : cq_dequeue_wait(q.get(), buf.data(), buf.size(), &len, timeout);
        if (rc == CQ_EMSGSIZE) {  // cannot happen with max_message_size; be safe
            buf.resize(len);
            continue;
        }
        if (rc == CQ_EEMPTY || rc == CQ_ETIMEDOUT) {
            std::fflush(stdout);
            if (count == 0 && got > 0) return kExitOk;
            const std::string context = std::to_string(got) + " message(s) received";
            // cq_dequeue's fast path leaves no detail for CQ_EEMPTY (the
            // thread's text may be an older one's): say it ourselves.
            if (rc == CQ_EEMPTY) throw LibError(rc, "queue " + name + " has no message", context);
            throw_lib(rc, context);
        }
        check(rc);
        std::fwrite(buf.data(), 1, len, stdout);
        std::fputc('\n', stdout);
        if (flush_each) std::fflush(stdout);
        ++got;
    }
    if (std::fflush(stdout) != 0) throw SysError("writing stdout failed");
    return kExitOk;
}

}  // namespace cqcli
