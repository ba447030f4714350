// cqueue lag: per durable subscriber and topic, where the subscriber resumes
// (one past its last acknowledged record), the topic's end and the lag, from
// the cqueue_subscriber_* and cqueue_topic_* lines of broker_metrics.
#include <cqueue/cqueue.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "args.hpp"
#include "broker_cli.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "format.hpp"

namespace cqcli {

namespace {

constexpr std::string_view kLagHelp =
    "usage: cqueue lag DIR [--json]\n"
    "\n"
    "For each durable subscriber of the broker in directory DIR and each topic its\n"
    "subscriptions matched, one line, sorted by subscriber and topic:\n"
    "\n"
    "  SUBSCRIBER  TOPIC  ACKED  END  LAG\n"
    "\n"
    "ACKED is where it resumes: the offset after its last acknowledged record (before\n"
    "any ack, where its subscription started: a durable subscription stores its\n"
    "position in a topic as soon as it matches it). END is the offset the next\n"
    "record of the topic will get, LAG = END - ACKED the records published that it\n"
    "has not acknowledged.\n"
    "\n"
    "DIR must exist. It is opened as a broker, as 'cqueue topics' does.\n"
    "\n"
    "  --json   one JSON array of objects {\"subscriber\", \"topic\", \"acked_offset\",\n"
    "           \"end_offset\", \"lag\"} instead of the table\n"
    "\n"
    "Exit codes: 0 ok (also with no subscriber), 1 library or system error (e.g. no\n"
    "such directory), 2 usage error.\n";

using ull = unsigned long long;

struct Row {
    const SubscriberMetrics *sub;
    uint64_t end;
};

std::vector<Row> rows(const BrokerMetrics &m) {
    std::vector<Row> out;
    for (const SubscriberMetrics &s : m.subscribers) {
        const TopicMetrics *t = m.find_topic(s.topic);
        // The end from the same snapshot as the lag, when the topic's line is missing.
        out.push_back({&s, t ? t->end_offset : s.acked_offset + s.lag_records});
    }
    return out;
}

void print_table(const std::vector<Row> &rows) {
    size_t sw = 10, tw = 5;
    for (const Row &r : rows) {
        sw = std::max(sw, r.sub->subscriber.size());
        tw = std::max(tw, r.sub->topic.size());
    }
    const int w1 = static_cast<int>(sw), w2 = static_cast<int>(tw);
    std::printf("%-*s  %-*s  %12s  %12s  %12s\n", w1, "SUBSCRIBER", w2, "TOPIC", "ACKED", "END",
                "LAG");
    for (const Row &r : rows)
        std::printf("%-*s  %-*s  %12llu  %12llu  %12llu\n", w1, r.sub->subscriber.c_str(), w2,
                    r.sub->topic.c_str(), ull(r.sub->acked_offset), ull(r.end),
                    ull(r.sub->lag_records));
}

void print_json(const std::vector<Row> &rows) {
    std::string out = "[";
    for (const Row &r : rows) {
        char nums[128];
        std::snprintf(nums, sizeof nums,
                      ", \"acked_offset\": %llu, \"end_offset\": %llu, "
                      "\"lag\": %llu}",
                      ull(r.sub->acked_offset), ull(r.end), ull(r.sub->lag_records));
        out += (out.size() > 1 ? ", " : "") + std::string("{\"subscriber\": ") +
               json_string(r.sub->subscriber) + ", \"topic\": " + json_string(r.sub->topic) + nums;
    }
    std::printf("%s]\n", out.c_str());
}

}  // namespace

int run_lag(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {{"json", 0, ArgKind::flag}};
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help")) return print_help(kLagHelp);
    const std::string &dir = args.single("DIR");
    BrokerPtr b = open_existing_broker(dir);
    const BrokerMetrics m = parse_metrics(metrics_text(b.get()));
    const std::vector<Row> r = rows(m);
    if (args.has("json"))
        print_json(r);
    else
        print_table(r);
    if (std::fflush(stdout) != 0) throw SysError("writing stdout failed");
    return kExitOk;
}

}  // namespace cqcli
