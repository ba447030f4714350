#include "demo_broker_session.hpp"

#include <algorithm>
#include <cstdio>

#include "clock.hpp"
#include "format.hpp"

namespace cqcli::broker_demo {

namespace {

using ull = unsigned long long;

constexpr demo_part::PartText kText = {
    .dir_prefix = "cqueue-brokerdemo-",
    .worker_command = "__broker-demo-worker",
    .senders_done = "all publishers done; the subscribers catch up and stop",
    .receivers_done = "all subscribers done",
    .interrupted = "interrupted; workers stopped and broker directory removed",
};

}  // namespace

BrokerDemoSession::BrokerDemoSession(const demo_part::PartConfig &config)
    : PartSession(kText, config, sizeof(Control)),
      ctl_(control<Control>()),
      runs_(config.receivers) {
    cq_broker_options o = CQ_BROKER_OPTIONS_INIT;
    o.segment_size = kSegmentSize;
    broker_ = open_broker(broker_dir(dir()), &o);
    plan_kill(kKillSubscriberAt, [this] { kill_subscriber(); });
}

uint64_t BrokerDemoSession::sent() const {
    uint64_t s = 0;
    for (uint32_t p = 0; p < config().senders; ++p) s += ctl_->publisher[p].published.load();
    return s;
}

BrokerDemoSession::Worker BrokerDemoSession::spawn_publisher(uint32_t id) {
    return spawn(Role::sender, id, 0, "publisher " + std::to_string(id),
                 {"publisher", "--dir", dir(), "--id", std::to_string(id), "--publishers",
                  std::to_string(config().senders), "--records", std::to_string(config().total),
                  "--t0", std::to_string(t0()), "--interval", std::to_string(interval_ns())});
}

BrokerDemoSession::Worker BrokerDemoSession::spawn_subscriber(uint32_t slot,
                                                              uint64_t start_offset) {
    const uint32_t record = record_count();
    const std::string path = record_path(dir(), record);
    add_record_file(open_record_file(path, config().total, true));
    runs_[slot].runs.push_back({path, start_offset});
    return spawn(Role::receiver, slot, record, "subscriber " + subscriber_id(slot),
                 {"subscriber", "--dir", dir(), "--slot", std::to_string(slot), "--record",
                  std::to_string(record), "--publishers", std::to_string(config().senders),
                  "--records", std::to_string(config().total)});
}

void BrokerDemoSession::start_workers() {
    // Subscribers first: they start at the earliest record anyway.
    for (uint32_t s = 0; s < config().receivers; ++s) spawn_subscriber(s, 0);
    for (uint32_t p = 0; p < config().senders; ++p) spawn_publisher(p);
    announce_started(plural(config().receivers, "subscriber") + " and " +
                     plural(config().senders, "publisher"));
}

// Where the durable id resumes, as the library reports it (broker_metrics).
uint64_t BrokerDemoSession::acked_offset(uint32_t slot) {
    const BrokerMetrics m = parse_metrics(metrics_text(broker_.get()));
    const std::string id = subscriber_id(slot);
    for (const SubscriberMetrics &s : m.subscribers)
        if (s.subscriber == id && s.topic == kTopic) return s.acked_offset;
    return 0;  // no ack yet: a new subscription, which starts at the earliest record
}

void BrokerDemoSession::kill_subscriber() {
    const std::optional<Worker> w = kill_running(Role::receiver, 0);
    if (!w) return;
    // The process is gone: its record file and its ack file no longer change.
    kill_.killed = true;
    kill_.killed_slot = 0;
    const demo_part::RecordFile &file = record_file(w->record);
    const uint64_t count = file.count();
    kill_.killed_end = count ? file.items<Record>()[file.readable() - 1].offset + 1 : 0;
    kill_.killed_acked = acked_offset(0);
    const std::string id = subscriber_id(0);
    event("SIGKILL " + id + " (pid " + std::to_string(w->pid) + "): it had recorded " +
          plural(count, "record") + ", acked offsets below " + std::to_string(kill_.killed_acked));
    const Worker again = spawn_subscriber(0, kill_.killed_acked);
    const uint64_t n =
        kill_.killed_end > kill_.killed_acked ? kill_.killed_end - kill_.killed_acked : 0;
    event("restarted " + id + " (pid " + std::to_string(again.pid) +
          ") with the same durable id: it resumes at offset " + std::to_string(kill_.killed_acked));
    if (n)
        event("  so the " + plural(n, "record") +
              " it recorded after its last ack will come again (at least once)");
}

std::string BrokerDemoSession::progress_status(uint64_t received, double rate) const {
    char line[200];
    std::snprintf(line, sizeof line,
                  "published %llu/%llu  delivered %llu (to %u subscribers)  %s deliveries/s",
                  ull(sent()), ull(config().total), ull(received), config().receivers,
                  human_count(rate).c_str());
    return line;
}

void BrokerDemoSession::print_intro() const {
    std::printf(
        "cqueue demo (pub/sub): %u publisher(s) -> topic %s -> %u durable subscriber(s),\n"
        "  %llu records, ",
        config().senders, kTopic, config().receivers, ull(config().total));
    if (config().seconds > 0)
        std::printf("publishing paced over ~%g s\n", config().seconds);
    else
        std::printf("publishing as fast as possible\n");
    std::printf("  broker   %s (segments of %llu KiB, fsync none)\n", broker_dir(dir()).c_str(),
                ull(kSegmentSize >> 10));
    std::printf(
        "  workers  separate programs ('cqueue __broker-demo-worker') that open the broker\n"
        "           directory; subscribers (pattern %s, ids %s..%s) record\n"
        "           what they get, then broker_ack it every 20 ms\n",
        kPattern, subscriber_id(0).c_str(), subscriber_id(config().receivers - 1).c_str());
    std::printf(
        "  plan     SIGKILL %s at %.0f%% of the records published and restart it\n"
        "           with the same durable id; then verify that every subscriber got\n"
        "           every record, duplicates only after its last ack\n\n",
        subscriber_id(0).c_str(), kKillSubscriberAt * 100);
    std::fflush(stdout);
}

bool BrokerDemoSession::finish(int64_t end_ns) {
    VerifyInput in = kill_;
    in.publishers = config().senders;
    in.records = config().total;
    in.subscribers = runs_;
    const VerifyResult r = verify(in);
    const BrokerMetrics m = parse_metrics(metrics_text(broker_.get()));
    const uint64_t published = sent(), delivered = received();
    const int64_t publish_end_ns = senders_done_ns() ? senders_done_ns() : end_ns;
    const double elapsed = std::max(static_cast<double>(end_ns - t0()) / 1e9, 1e-9);
    const double pub_elapsed = std::max(static_cast<double>(publish_end_ns - t0()) / 1e9, 1e-9);

    std::vector<std::string> why;
    if (!failure().empty()) why.push_back(failure());
    std::printf("\nresults (pub/sub)\n");
    std::printf("  published         %llu of %llu records in %.2f s = %s records/s%s\n",
                ull(published), ull(config().total), pub_elapsed,
                human_count(static_cast<double>(published) / pub_elapsed).c_str(),
                config().seconds > 0 ? " (paced; --seconds 0 for full speed)" : "");
    std::printf("  delivered         %llu records to %u subscribers in %.2f s = %s deliveries/s\n",
                ull(delivered), config().receivers, elapsed,
                human_count(static_cast<double>(delivered) / elapsed).c_str());
    if (const TopicMetrics *t = m.find_topic(kTopic)) {
        std::printf("  topic %s  end offset %llu, %s, %llu bytes of segment files\n", kTopic,
                    ull(t->end_offset), plural(t->segments, "segment").c_str(), ull(t->bytes));
        if (failure().empty() && t->end_offset != config().total)
            why.push_back("the topic's end offset is " + std::to_string(t->end_offset) + ", not " +
                          std::to_string(config().total));
    } else {
        why.push_back("broker_metrics does not list topic " + std::string(kTopic));
    }
    for (uint32_t s = 0; s < r.subscribers.size(); ++s) {
        const SubscriberResult &sr = r.subscribers[s];
        const std::string id = subscriber_id(s);
        std::printf("  %-12s      %llu distinct of %llu, %llu duplicate(s)", id.c_str(),
                    ull(sr.distinct), ull(config().total), ull(sr.duplicates));
        if (kill_.killed && s == kill_.killed_slot) {
            const unsigned n = static_cast<unsigned>(runs_[s].runs.size());
            if (kill_.killed_end > kill_.killed_acked)
                std::printf(
                    " in %u runs: offsets %llu..%llu,\n"
                    "                    recorded after its last ack before the kill",
                    n, ull(kill_.killed_acked), ull(kill_.killed_end) - 1);
            else
                std::printf(" in %u runs (none expected: it had acked all it recorded)", n);
        }
        if (sr.missing) std::printf(", %llu missing", ull(sr.missing));
        if (sr.order_violations) std::printf(", %llu out of order", ull(sr.order_violations));
        std::printf("\n");
        if (sr.missing) why.push_back(id + ": " + plural(sr.missing, "record") + " missing");
        if (sr.order_violations)
            why.push_back(id + ": " + plural(sr.order_violations, "order violation"));
        if (sr.duplicates != sr.allowed_duplicates)
            why.push_back(id + ": " +
                          plural(sr.duplicates - sr.allowed_duplicates, "unexplained duplicate"));
        // Each subscriber acknowledged everything: cqueue lag would show 0.
        uint64_t acked = 0;
        for (const SubscriberMetrics &sm : m.subscribers)
            if (sm.subscriber == id && sm.topic == kTopic) acked = sm.acked_offset;
        if (failure().empty() && acked != config().total)
            why.push_back(id + " acknowledged up to offset " + std::to_string(acked) + ", not " +
                          std::to_string(config().total));
    }
    if (r.bad) why.push_back(plural(r.bad, "malformed record"));
    if (r.mismatches) why.push_back(plural(r.mismatches, "offset mismatch"));
    for (const std::string &p : r.problems) std::printf("  note: %s\n", p.c_str());
    if (why.empty()) {
        std::printf(
            "\nPASS: every subscriber got every record in offset order; duplicates only\n"
            "      after the restart, for records after the killed subscriber's last "
            "ack;\n      every durable id acknowledged all %llu records (lag 0)\n",
            ull(config().total));
        return true;
    }
    demo_part::print_fail(why, "broker and records kept in " + dir());
    return false;
}

}  // namespace cqcli::broker_demo
