// cqueue stat: every field of cq_queue_stats, as a table or as JSON.
#include <cqueue/cqueue.h>

#include <cstdio>
#include <string>

#include "args.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "format.hpp"

namespace cqcli {

namespace {

constexpr std::string_view kStatHelp =
    "usage: cqueue stat NAME [--json]\n"
    "\n"
    "Show the queue's counters: capacity, max_message_size, length (messages queued),\n"
    "free_nodes, enqueued, dequeued, reclaimed (nodes returned by recovery),\n"
    "recoveries, lanes_live and lanes_dead (process x thread slots of live and of\n"
    "dead, not yet recovered processes). length and free_nodes are exact only when\n"
    "no operation is in flight. Reading the stats never triggers recovery.\n"
    "\n"
    "  --json   one JSON object instead of the table\n"
    "\n"
    "Exit codes: 0 ok, 1 library error (e.g. no such queue), 2 usage error.\n";

using ull = unsigned long long;

void print_json(const std::string &name, const cq_queue_stats &s) {
    std::printf(
        "{\"name\": %s, \"capacity\": %u, \"max_message_size\": %u, \"length\": %llu, "
        "\"free_nodes\": %llu, \"enqueued\": %llu, \"dequeued\": %llu, \"reclaimed\": %llu, "
        "\"recoveries\": %llu, \"lanes_live\": %u, \"lanes_dead\": %u}\n",
        json_string(name).c_str(), s.capacity, s.max_message_size, ull(s.length), ull(s.free_nodes),
        ull(s.enqueued), ull(s.dequeued), ull(s.reclaimed), ull(s.recoveries), s.lanes_live,
        s.lanes_dead);
}

void print_table(const std::string &name, const cq_queue_stats &s) {
    std::printf("queue             %s\n", name.c_str());
    std::printf("capacity          %u messages\n", s.capacity);
    std::printf("max_message_size  %u bytes\n", s.max_message_size);
    std::printf("length            %llu\n", ull(s.length));
    std::printf("free_nodes        %llu\n", ull(s.free_nodes));
    std::printf("enqueued          %llu\n", ull(s.enqueued));
    std::printf("dequeued          %llu\n", ull(s.dequeued));
    std::printf("reclaimed         %llu\n", ull(s.reclaimed));
    std::printf("recoveries        %llu\n", ull(s.recoveries));
    std::printf("lanes_live        %u\n", s.lanes_live);
    std::printf("lanes_dead        %u\n", s.lanes_dead);
}

}  // namespace

int run_stat(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {{"json", 0, ArgKind::flag}};
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help")) return print_help(kStatHelp);
    const std::string &name = args.single("NAME");
    // CQ_NO_RECOVER: looking must not change what there is to see.
    QueuePtr q = open_queue(name, CQ_NO_RECOVER);
    cq_queue_stats s = queue_stats(q.get());
    if (args.has("json"))
        print_json(name, s);
    else
        print_table(name, s);
    return kExitOk;
}

}  // namespace cqcli
