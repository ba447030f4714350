// cqueue topics: the topics of a broker directory with their end offset,
// segment count and size, from broker_topics and broker_metrics.
#include <cqueue/cqueue.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "args.hpp"
#include "broker_cli.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "format.hpp"

namespace cqcli {

namespace {

constexpr std::string_view kTopicsHelp =
    "usage: cqueue topics DIR [--json]\n"
    "\n"
    "List the topics of the broker in directory DIR, one per line, sorted:\n"
    "\n"
    "  TOPIC  END  SEGMENTS  BYTES\n"
    "\n"
    "END is the offset the next record will get (the number of records published\n"
    "to the topic; retention does not lower it), SEGMENTS the segment files on disk,\n"
    "BYTES their size (a segment file has its full size from the start, so this is\n"
    "not the size of the records).\n"
    "\n"
    "  --json   one JSON array of objects {\"topic\", \"end_offset\", \"segments\",\n"
    "           \"bytes\"} instead of the table\n"
    "\n"
    "DIR must exist. It is opened as a broker: that creates its control file if it\n"
    "has none, and may cut off a torn tail that a crashed publisher left (as any\n"
    "broker_open does when no other handle is open).\n"
    "\n"
    "Exit codes: 0 ok (also with no topic), 1 library or system error (e.g. no such\n"
    "directory), 2 usage error.\n";

using ull = unsigned long long;

// The topics broker_topics names, with their numbers from broker_metrics; a
// topic created between the two calls appears with what the metrics say.
std::vector<TopicMetrics> collect(cq_broker *b) {
    const std::string names = topics_text(b);
    const BrokerMetrics m = parse_metrics(metrics_text(b));
    std::vector<TopicMetrics> out;
    size_t pos = 0;
    while (pos < names.size()) {
        size_t nl = names.find('\n', pos);
        if (nl == std::string::npos) nl = names.size();
        const std::string name = names.substr(pos, nl - pos);
        pos = nl + 1;
        if (name.empty()) continue;
        const TopicMetrics *t = m.find_topic(name);
        out.push_back(t ? *t : TopicMetrics{name});
    }
    for (const TopicMetrics &t : m.topics)
        if (std::none_of(out.begin(), out.end(),
                         [&](const TopicMetrics &o) { return o.topic == t.topic; }))
            out.push_back(t);
    std::sort(out.begin(), out.end(),
              [](const TopicMetrics &a, const TopicMetrics &b) { return a.topic < b.topic; });
    return out;
}

void print_table(const std::vector<TopicMetrics> &topics) {
    size_t width = 5;
    for (const TopicMetrics &t : topics) width = std::max(width, t.topic.size());
    const int w = static_cast<int>(width);
    std::printf("%-*s  %12s  %8s  %14s\n", w, "TOPIC", "END", "SEGMENTS", "BYTES");
    for (const TopicMetrics &t : topics)
        std::printf("%-*s  %12llu  %8llu  %14llu\n", w, t.topic.c_str(), ull(t.end_offset),
                    ull(t.segments), ull(t.bytes));
}

void print_json(const std::vector<TopicMetrics> &topics) {
    std::string out = "[";
    for (const TopicMetrics &t : topics) {
        char nums[128];
        std::snprintf(nums, sizeof nums,
                      ", \"end_offset\": %llu, \"segments\": %llu, \"bytes\": %llu}",
                      ull(t.end_offset), ull(t.segments), ull(t.bytes));
        out += (out.size() > 1 ? ", " : "") + std::string("{\"topic\": ") + json_string(t.topic) +
               nums;
    }
    std::printf("%s]\n", out.c_str());
}

}  // namespace

int run_topics(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {{"json", 0, ArgKind::flag}};
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help")) return print_help(kTopicsHelp);
    const std::string &dir = args.single("DIR");
    BrokerPtr b = open_existing_broker(dir);
    const std::vector<TopicMetrics> topics = collect(b.get());
    if (args.has("json"))
        print_json(topics);
    else
        print_table(topics);
    if (std::fflush(stdout) != 0) throw SysError("writing stdout failed");
    return kExitOk;
}

}  // namespace cqcli
