#include "demo_broker_session.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdio>

#include "cli.hpp"
#include "clock.hpp"
#include "format.hpp"
#include "interrupt.hpp"

namespace cqcli::broker_demo {

namespace {

constexpr int64_t kGraceNs = 30'000'000'000;  // beyond --seconds, before giving up

using ull = unsigned long long;

}  // namespace

BrokerDemoSession::BrokerDemoSession(const BrokerDemoConfig &cfg)
    : cfg_(cfg),
      dir_("cqueue-brokerdemo-"),
      ctl_map_(Mapping::file(control_path(dir_.path()), sizeof(Control), true)),
      ctl_(ctl_map_.as<Control>()),
      runs_(cfg.subscribers) {
    cq_broker_options o = CQ_BROKER_OPTIONS_INIT;
    o.segment_size = kSegmentSize;
    broker_ = open_broker(broker_dir(dir_.path()), &o);
}

void BrokerDemoSession::event(const std::string &what) {
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "[%5.2fs] ", seconds_since(t0_));
    progress_.println(stamp + what);
}

uint64_t BrokerDemoSession::published() const {
    uint64_t s = 0;
    for (uint32_t p = 0; p < cfg_.publishers; ++p) s += ctl_->publisher[p].published.load();
    return s;
}

uint64_t BrokerDemoSession::recorded(uint32_t record) const {
    return records_[record].as<RecordHeader>()->count.load();
}

uint64_t BrokerDemoSession::delivered() const {
    uint64_t s = 0;
    for (uint32_t i = 0; i < records_.size(); ++i) s += recorded(i);
    return s;
}

bool BrokerDemoSession::any_running(Role role) const {
    return std::any_of(workers_.begin(), workers_.end(),
                       [role](const Worker &w) { return w.role == role && w.running; });
}

BrokerDemoSession::Worker *BrokerDemoSession::find_running(Role role, uint32_t slot) {
    for (Worker &w : workers_)
        if (w.role == role && w.slot == slot && w.running) return &w;
    return nullptr;
}

void BrokerDemoSession::spawn_publisher(uint32_t id) {
    pid_t pid = children_.spawn_self(
        {"__broker-demo-worker", "publisher", "--dir", dir_.path(), "--id", std::to_string(id),
         "--publishers", std::to_string(cfg_.publishers), "--records", std::to_string(cfg_.records),
         "--t0", std::to_string(t0_), "--interval", std::to_string(interval_ns_)});
    workers_.push_back({Role::publisher, id, 0, pid, true});
}

void BrokerDemoSession::spawn_subscriber(uint32_t slot, uint64_t start_offset) {
    const uint32_t record = static_cast<uint32_t>(records_.size());
    const std::string path = record_path(dir_.path(), record);
    records_.push_back(Mapping::file(path, record_file_size(cfg_.records), true));
    runs_[slot].runs.push_back({path, start_offset});
    pid_t pid = children_.spawn_self(
        {"__broker-demo-worker", "subscriber", "--dir", dir_.path(), "--slot", std::to_string(slot),
         "--record", std::to_string(record), "--publishers", std::to_string(cfg_.publishers),
         "--records", std::to_string(cfg_.records)});
    workers_.push_back({Role::subscriber, slot, record, pid, true});
}

// Notes workers that ended. False if one failed on its own (not killed by us).
bool BrokerDemoSession::reap() {
    for (Worker &w : workers_) {
        if (!w.running) continue;
        ExitStatus st;
        if (!children_.wait(w.pid, &st, false)) continue;
        w.running = false;
        if (!st.exited || st.code != 0) {
            failure_ = (w.role == Role::publisher ? "publisher " + std::to_string(w.slot)
                                                  : "subscriber " + subscriber_id(w.slot)) +
                       " (pid " + std::to_string(w.pid) + ") failed: " + st.describe();
            return false;
        }
    }
    return true;
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
    Worker *w = find_running(Role::subscriber, 0);
    if (!w) return;
    const pid_t pid = w->pid;
    const uint32_t record = w->record;
    children_.kill(pid, SIGKILL);
    ExitStatus st;
    children_.wait(pid, &st);
    w->running = false;
    // The process is gone: its record file and its ack file no longer change.
    kill_.killed = true;
    kill_.killed_slot = 0;
    const uint64_t count = recorded(record);
    const Record *rec = reinterpret_cast<const Record *>(records_[record].as<RecordHeader>() + 1);
    kill_.killed_end =
        count ? rec[std::min(count, record_capacity(cfg_.records)) - 1].offset + 1 : 0;
    kill_.killed_acked = acked_offset(0);
    const std::string id = subscriber_id(0);
    event("SIGKILL " + id + " (pid " + std::to_string(pid) + "): it had recorded " +
          plural(count, "record") + ", acked offsets below " + std::to_string(kill_.killed_acked));
    spawn_subscriber(0, kill_.killed_acked);
    const uint64_t again =
        kill_.killed_end > kill_.killed_acked ? kill_.killed_end - kill_.killed_acked : 0;
    event("restarted " + id + " (pid " + std::to_string(workers_.back().pid) +
          ") with the same durable id: it resumes at offset " + std::to_string(kill_.killed_acked));
    if (again)
        event("  so the " + plural(again, "record") +
              " it recorded after its last ack will come again (at least once)");
}

void BrokerDemoSession::show_progress(bool force) {
    const int64_t now = now_ns();
    const int64_t every = progress_.enabled() ? 100'000'000 : 1'000'000'000;
    if (!force && now - last_progress_ns_ < every) return;
    last_progress_ns_ = now;
    const uint64_t got = delivered();
    if (now - rate_ns_ >= 250'000'000 || (force && now > rate_ns_)) {  // over >= 1/4 s
        rate_ = static_cast<double>(got - rate_count_) * 1e9 / static_cast<double>(now - rate_ns_);
        rate_ns_ = now;
        rate_count_ = got;
    }
    char line[200];
    std::snprintf(line, sizeof line,
                  "[%5.2fs] published %llu/%llu  delivered %llu (to %u subscribers)  %s "
                  "deliveries/s",
                  static_cast<double>(now - t0_) / 1e9, ull(published()), ull(cfg_.records),
                  ull(got), cfg_.subscribers, human_count(rate_).c_str());
    if (progress_.enabled())
        progress_.update(line);
    else
        progress_.println(line);
}

void BrokerDemoSession::print_intro() const {
    std::printf(
        "cqueue demo (pub/sub): %u publisher(s) -> topic %s -> %u durable subscriber(s),\n"
        "  %llu records, ",
        cfg_.publishers, kTopic, cfg_.subscribers, ull(cfg_.records));
    if (cfg_.seconds > 0)
        std::printf("publishing paced over ~%g s\n", cfg_.seconds);
    else
        std::printf("publishing as fast as possible\n");
    std::printf("  broker   %s (segments of %llu KiB, fsync none)\n",
                broker_dir(dir_.path()).c_str(), ull(kSegmentSize >> 10));
    std::printf(
        "  workers  separate programs ('cqueue __broker-demo-worker') that open the broker\n"
        "           directory; subscribers (pattern %s, ids %s..%s) record\n"
        "           what they get, then broker_ack it every 20 ms\n",
        kPattern, subscriber_id(0).c_str(), subscriber_id(cfg_.subscribers - 1).c_str());
    std::printf(
        "  plan     SIGKILL %s at %.0f%% of the records published and restart it\n"
        "           with the same durable id; then verify that every subscriber got\n"
        "           every record, duplicates only after its last ack\n\n",
        subscriber_id(0).c_str(), kKillSubscriberAt * 100);
    std::fflush(stdout);
}

int BrokerDemoSession::run() {
    InterruptGuard interrupts;
    print_intro();
    t0_ = now_ns();
    last_progress_ns_ = rate_ns_ = t0_;
    const uint64_t per_publisher = records_of(cfg_.records, cfg_.publishers, 0);
    interval_ns_ =
        cfg_.seconds > 0
            ? static_cast<int64_t>(cfg_.seconds * 1e9 / static_cast<double>(per_publisher))
            : 0;
    // Subscribers first: they start at the earliest record anyway.
    for (uint32_t s = 0; s < cfg_.subscribers; ++s) spawn_subscriber(s, 0);
    for (uint32_t p = 0; p < cfg_.publishers; ++p) spawn_publisher(p);
    {
        std::string pids;
        for (const Worker &w : workers_) pids += (pids.empty() ? "" : " ") + std::to_string(w.pid);
        event("started " + plural(cfg_.subscribers, "subscriber") + " and " +
              plural(cfg_.publishers, "publisher") + " (pids " + pids + ")");
    }

    const uint64_t total = cfg_.records;
    const int64_t poll_ns = cfg_.seconds > 0 ? 10'000'000 : 1'000'000;
    const int64_t deadline = t0_ + static_cast<int64_t>(cfg_.seconds * 1e9) + kGraceNs;
    bool killed = false, stop = false;
    for (;;) {
        InterruptGuard::check("interrupted; workers stopped and broker directory removed");
        if (!reap()) break;
        if (!killed && published() >= static_cast<uint64_t>(kKillSubscriberAt * total)) {
            killed = true;
            kill_subscriber();
        }
        if (!stop && killed && !any_running(Role::publisher)) {
            stop = true;
            publish_end_ns_ = now_ns();
            ctl_->stop.store(1, std::memory_order_release);
            show_progress(true);
            event("all publishers done; the subscribers catch up and stop");
        }
        if (stop && !any_running(Role::subscriber)) break;
        if (now_ns() > deadline) {
            failure_ = "the demo did not finish within " +
                       std::to_string((deadline - t0_) / 1'000'000'000) + " s";
            break;
        }
        show_progress(false);
        sleep_for_ns(poll_ns);
    }
    const int64_t end = now_ns();
    if (failure_.empty()) event("all subscribers done");
    progress_.clear();
    return finish(end);
}

int BrokerDemoSession::finish(int64_t end_ns) {
    children_.kill_all();  // after a failure: stop whatever still runs
    VerifyInput in = kill_;
    in.publishers = cfg_.publishers;
    in.records = cfg_.records;
    in.subscribers = runs_;
    const VerifyResult r = verify(in);
    const BrokerMetrics m = parse_metrics(metrics_text(broker_.get()));
    const double elapsed = std::max(static_cast<double>(end_ns - t0_) / 1e9, 1e-9);
    const double pub_elapsed = std::max(
        static_cast<double>((publish_end_ns_ ? publish_end_ns_ : end_ns) - t0_) / 1e9, 1e-9);

    std::vector<std::string> why;
    if (!failure_.empty()) why.push_back(failure_);
    std::printf("\nresults (pub/sub)\n");
    std::printf("  published         %llu of %llu records in %.2f s = %s records/s%s\n",
                ull(published()), ull(cfg_.records), pub_elapsed,
                human_count(static_cast<double>(published()) / pub_elapsed).c_str(),
                cfg_.seconds > 0 ? " (paced; --seconds 0 for full speed)" : "");
    std::printf("  delivered         %llu records to %u subscribers in %.2f s = %s deliveries/s\n",
                ull(delivered()), cfg_.subscribers, elapsed,
                human_count(static_cast<double>(delivered()) / elapsed).c_str());
    if (const TopicMetrics *t = m.find_topic(kTopic)) {
        std::printf("  topic %s  end offset %llu, %s, %llu bytes of segment files\n", kTopic,
                    ull(t->end_offset), plural(t->segments, "segment").c_str(), ull(t->bytes));
        if (failure_.empty() && t->end_offset != cfg_.records)
            why.push_back("the topic's end offset is " + std::to_string(t->end_offset) + ", not " +
                          std::to_string(cfg_.records));
    } else {
        why.push_back("broker_metrics does not list topic " + std::string(kTopic));
    }
    for (uint32_t s = 0; s < r.subscribers.size(); ++s) {
        const SubscriberResult &sr = r.subscribers[s];
        const std::string id = subscriber_id(s);
        std::printf("  %-12s      %llu distinct of %llu, %llu duplicate(s)", id.c_str(),
                    ull(sr.distinct), ull(cfg_.records), ull(sr.duplicates));
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
        if (failure_.empty() && acked != cfg_.records)
            why.push_back(id + " acknowledged up to offset " + std::to_string(acked) + ", not " +
                          std::to_string(cfg_.records));
    }
    if (r.bad) why.push_back(plural(r.bad, "malformed record"));
    if (r.mismatches) why.push_back(plural(r.mismatches, "offset mismatch"));
    for (const std::string &p : r.problems) std::printf("  note: %s\n", p.c_str());
    if (why.empty()) {
        std::printf(
            "\nPASS: every subscriber got every record in offset order; duplicates only\n"
            "      after the restart, for records after the killed subscriber's last "
            "ack;\n      every durable id acknowledged all %llu records (lag 0)\n",
            ull(cfg_.records));
        return kExitOk;
    }
    std::string all;
    for (const std::string &w : why) all += (all.empty() ? "" : "; ") + w;
    std::printf("\nFAIL: %s\n      (broker and records kept in %s)\n", all.c_str(),
                dir_.path().c_str());
    dir_.keep();
    return kExitVerify;
}

}  // namespace cqcli::broker_demo
