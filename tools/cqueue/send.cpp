// cqueue send: enqueue the arguments, or the lines of stdin, one message each.
#include <cqueue/cqueue.h>
#include <stdio.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "args.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "wait_option.hpp"

namespace cqcli {

namespace {

constexpr std::string_view kSendHelp =
    "usage: cqueue send NAME [--wait[=SECONDS]] [--] [MSG...]\n"
    "\n"
    "Enqueue each MSG as one message. With no MSG, read stdin and enqueue each\n"
    "line (without its newline) as one message. Use -- before messages that\n"
    "start with '-'.\n"
    "\n"
    "  --wait[=SECONDS]   while the queue is full, wait for room (forever, or up to\n"
    "                     SECONDS for each message) instead of failing at once\n"
    "\n"
    "Exit codes: 0 all sent, 1 library error (e.g. a message larger than the queue's\n"
    "max size), 2 usage error, 3 the queue was full (without --wait) or the wait\n"
    "timed out. On failure stderr says how many messages were sent before it.\n";

class Sender {
  public:
    Sender(cq_queue *q, int64_t timeout_ns) : q_(q), timeout_ns_(timeout_ns) {}

    void send(const char *data, size_t len) {
        int rc = timeout_ns_ == CQ_NO_WAIT ? cq_enqueue(q_, data, len)
                                           : cq_enqueue_wait(q_, data, len, timeout_ns_);
        if (rc < 0)
            throw_lib(rc, "message " + std::to_string(sent_ + 1) + "; " + std::to_string(sent_) +
                              " sent before it");
        ++sent_;
    }

  private:
    cq_queue *q_;
    int64_t timeout_ns_;
    uint64_t sent_ = 0;
};

void send_stdin_lines(Sender &sender) {
    for_each_stdin_line([&](const char *line, size_t len) { sender.send(line, len); });
}

}  // namespace

int run_send(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {{"wait", 0, ArgKind::optional_value}};
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help")) return print_help(kSendHelp);
    const std::vector<std::string> &pos = args.positional();
    if (pos.empty()) throw UsageError("missing NAME");
    const int64_t timeout = wait_timeout_ns(args);
    QueuePtr q = open_queue(pos[0]);
    Sender sender(q.get(), timeout);
    if (pos.size() == 1) {
        send_stdin_lines(sender);
    } else {
        for (size_t i = 1; i < pos.size(); ++i) sender.send(pos[i].data(), pos[i].size());
    }
    return kExitOk;
}

}  // namespace cqcli
