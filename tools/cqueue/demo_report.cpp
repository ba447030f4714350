#include "demo_report.hpp"

#include <cstdio>
#include <vector>

#include "demo_part.hpp"
#include "demo_shared.hpp"
#include "format.hpp"

namespace cqcli::demo {

namespace {

using ull = unsigned long long;

void print_numbers(const ReportInput &in) {
    const VerifyResult &r = in.verify;
    const cq_queue_stats &s = in.stats;
    std::printf("\nresults\n");
    std::printf("  delivered         %llu of %llu messages in %.2f s = %s msgs/s%s\n",
                ull(r.delivered), ull(in.messages), in.elapsed,
                human_count(static_cast<double>(r.delivered) / in.elapsed).c_str(),
                in.seconds_paced > 0 ? " (paced; --seconds 0 for full speed)" : "");
    std::printf("  duplicates        %llu\n", ull(r.duplicates));
    std::printf("  order violations  %llu (each producer's seq must rise within each consumer)\n",
                ull(r.order_violations));
    std::printf("  malformed         %llu\n", ull(r.bad));
    if (r.in_doubt.empty())
        std::printf("  in doubt          0 (%s)\n",
                    in.producer_killed ? "producer 0 was not inside cq_enqueue when killed"
                                       : "producer 0 was not killed");
    for (const InDoubt &d : r.in_doubt)
        std::printf("  in doubt          producer %u seq %llu: %s\n", d.producer, ull(d.seq),
                    d.delivered
                        ? "delivered: the kill came after cq_enqueue had linked\n"
                          "                    it, and resuming after it avoided a duplicate"
                        : "not delivered: the kill came before cq_enqueue linked it");
    std::printf(
        "  lost              %llu (allowed up to %llu: messages the killed consumer had\n"
        "                    dequeued, one batch of at most %u, but not yet recorded)\n",
        ull(r.lost), ull(r.lost_allowed), kConsumerBatch);
    std::printf(
        "  queue at the end  length %llu, free_nodes %llu, enqueued %llu, dequeued %llu,\n"
        "                    reclaimed %llu, recoveries %llu, lanes_dead %u\n",
        ull(s.length), ull(s.free_nodes), ull(s.enqueued), ull(s.dequeued), ull(s.reclaimed),
        ull(s.recoveries), s.lanes_dead);
    const bool conserved = s.free_nodes + s.length == s.capacity;
    std::printf("  nodes             free %llu + queued %llu %s capacity %u%s\n", ull(s.free_nodes),
                ull(s.length), conserved ? "=" : "!=", s.capacity,
                conserved ? " (recovery left no node behind)" : "");
    if (in.final_recover_rc != CQ_OK || in.final_reclaimed != 0)
        std::printf("  final cq_recover  %s, reclaimed %llu\n", cq_strerror(in.final_recover_rc),
                    ull(in.final_reclaimed));
    for (const std::string &p : r.problems) std::printf("  note: %s\n", p.c_str());
}

}  // namespace

bool report(const ReportInput &in) {
    print_numbers(in);
    const VerifyResult &r = in.verify;
    std::vector<std::string> why;
    if (!in.failure.empty()) why.push_back(in.failure);
    if (r.duplicates) why.push_back(plural(r.duplicates, "duplicate"));
    if (r.order_violations) why.push_back(plural(r.order_violations, "order violation"));
    if (r.bad) why.push_back(plural(r.bad, "malformed message"));
    if (r.lost > r.lost_allowed)
        why.push_back(std::to_string(r.lost) + " lost, more than the kill explains");
    if (in.failure.empty() && in.stats.length != 0)
        why.push_back("the queue is not empty at the end");
    if (in.stats.free_nodes + in.stats.length != in.stats.capacity)
        why.push_back("nodes leaked: free + queued != capacity");
    if (why.empty()) {
        uint64_t unexplained_missing = r.lost;
        for (const InDoubt &d : r.in_doubt) unexplained_missing += d.delivered ? 0 : 1;
        std::printf("\nPASS: no duplicates, order kept, every message delivered");
        if (unexplained_missing)
            std::printf(" except %llu explained above", ull(unexplained_missing));
        std::printf("\n");
        return true;
    }
    demo_part::print_fail(why, "records kept in " + in.records_dir);
    return false;
}

}  // namespace cqcli::demo
