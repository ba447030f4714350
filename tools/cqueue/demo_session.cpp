#include "demo_session.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "clock.hpp"
#include "demo_report.hpp"
#include "format.hpp"

namespace cqcli::demo {

namespace {

constexpr demo_part::PartText kText = {
    .dir_prefix = "cqueue-demo-",
    .worker_command = "__demo-worker",
    .senders_done = "all producers done; the consumers drain the queue and stop",
    .receivers_done = "all consumers done",
    .interrupted = "interrupted; workers stopped and queue removed",
};

std::string unique_queue_name() {
    std::random_device rd;
    char buf[64];
    std::snprintf(buf, sizeof buf, "cqueue-demo-%d-%08x", static_cast<int>(getpid()), rd());
    return buf;
}

}  // namespace

DemoSession::DemoSession(const demo_part::PartConfig &config)
    : PartSession(kText, config, sizeof(Control)),
      name_(unique_queue_name()),
      ctl_(control<Control>()) {
    cq_queue_options o = CQ_QUEUE_OPTIONS_INIT;
    o.capacity = kQueueCapacity;
    o.max_message_size = kQueueMaxMessage;
    q_ = open_queue(name_, CQ_CREATE | CQ_EXCL, &o);  // only then is the name ours to remove
    unlink_ = std::make_unique<UnlinkGuard>(name_);
    plan_kill(kKillConsumerAt, [this] { kill_consumer(); });
    plan_kill(kKillProducerAt, [this] { kill_producer(); });
}

uint64_t DemoSession::sent() const {
    uint64_t s = 0;
    for (uint32_t p = 0; p < config().senders; ++p) s += ctl_->producer[p].done.load();
    return s;
}

DemoSession::Worker DemoSession::spawn_producer(uint32_t id) {
    return spawn(
        Role::sender, id, 0, "producer " + std::to_string(id),
        {"producer", "--queue", name_, "--dir", dir(), "--id", std::to_string(id), "--producers",
         std::to_string(config().senders), "--messages", std::to_string(config().total), "--t0",
         std::to_string(t0()), "--interval", std::to_string(interval_ns())});
}

DemoSession::Worker DemoSession::spawn_consumer(uint32_t slot) {
    const uint32_t record = record_count();
    add_record_file(open_record_file(record_path(dir(), record), config().total, true));
    return spawn(Role::receiver, slot, record, "consumer " + std::to_string(slot),
                 {"consumer", "--queue", name_, "--dir", dir(), "--record", std::to_string(record),
                  "--producers", std::to_string(config().senders), "--messages",
                  std::to_string(config().total)});
}

void DemoSession::start_workers() {
    for (uint32_t p = 0; p < config().senders; ++p) spawn_producer(p);
    for (uint32_t c = 0; c < config().receivers; ++c) spawn_consumer(c);
    announce_started(plural(config().senders, "producer") + " and " +
                     plural(config().receivers, "consumer"));
}

// cq_recover may find a live process inside an operation for too long (it
// was descheduled): try again a few times, then leave it to the workers,
// which recover by themselves when they notice the dead.
void DemoSession::recover() {
    for (int attempt = 0; attempt < 20; ++attempt) {
        uint64_t reclaimed = 0;
        int rc = cq_recover(q_.get(), &reclaimed);
        if (rc == CQ_OK) {
            event("cq_recover: reclaimed " + plural(reclaimed, "node") +
                  (reclaimed ? " the dead process held" : " (it held none)"));
            return;
        }
        if (rc != CQ_EBUSY) throw_lib(rc, "cq_recover");
        sleep_for_ns(50'000'000);
    }
    event("cq_recover: still busy after 20 tries; the workers will recover by themselves");
}

void DemoSession::kill_consumer() {
    const std::optional<Worker> w = kill_running(Role::receiver, 0);
    if (!w) return;
    ++killed_consumers_;
    event("SIGKILL consumer 0 (pid " + std::to_string(w->pid) + "); it had recorded " +
          plural(record_file(w->record).count(), "message"));
    recover();
    const Worker again = spawn_consumer(0);
    event("restarted consumer 0 (pid " + std::to_string(again.pid) + "), recording into " +
          record_path(".", again.record).substr(2));
}

void DemoSession::kill_producer() {
    const std::optional<Worker> w = kill_running(Role::sender, 0);
    if (!w) {
        event("producer 0 had already finished: nothing to kill");
        return;
    }
    killed_producer_ = true;
    // The process is gone: its slot no longer changes.
    const ProducerSlot &slot = ctl_->producer[0];
    const uint64_t trying = slot.trying.load(), done = slot.done.load();
    std::string what = "SIGKILL producer 0 (pid " + std::to_string(w->pid) + "): ";
    what += done == 0 ? "nothing enqueued yet" : "seq 0.." + std::to_string(done - 1) + " enqueued";
    if (trying > done) {
        in_doubt_.push_back({0, done, false});
        what += "; seq " + std::to_string(done) +
                " was inside cq_enqueue (in doubt: it will not be sent again)";
    }
    event(what);
    recover();
    const Worker again = spawn_producer(0);
    event("restarted producer 0 (pid " + std::to_string(again.pid) + "): resumes at seq " +
          std::to_string(std::max(trying, done)));
}

std::string DemoSession::progress_status(uint64_t received, double rate) const {
    uint64_t length = 0;
    cq_queue_stats s = CQ_QUEUE_STATS_INIT;
    if (cq_stats(q_.get(), &s) == CQ_OK) length = s.length;
    char line[200];
    std::snprintf(line, sizeof line, "sent %llu/%llu  received %llu  queue %llu  %s msgs/s",
                  static_cast<unsigned long long>(sent()),
                  static_cast<unsigned long long>(config().total),
                  static_cast<unsigned long long>(received),
                  static_cast<unsigned long long>(length), human_count(rate).c_str());
    return line;
}

void DemoSession::print_intro() const {
    std::printf("cqueue demo: %u producer(s) -> %u consumer(s), %llu messages, ", config().senders,
                config().receivers, static_cast<unsigned long long>(config().total));
    if (config().seconds > 0)
        std::printf("sending paced over ~%g s\n", config().seconds);
    else
        std::printf("sending as fast as possible\n");
    std::printf("  queue    %s (capacity %u messages of up to %u bytes)\n", name_.c_str(),
                kQueueCapacity, kQueueMaxMessage);
    std::printf(
        "  workers  separate programs ('cqueue __demo-worker') that open the queue by name\n");
    std::printf("  records  %s\n", dir().c_str());
    std::printf(
        "  plan     SIGKILL consumer 0 at %.0f%% and producer 0 at %.0f%% of the messages\n"
        "           sent; after each, cq_recover and a restart; then verify delivery\n\n",
        kKillConsumerAt * 100, kKillProducerAt * 100);
    std::fflush(stdout);
}

bool DemoSession::finish(int64_t end_ns) {
    VerifyInput vin;
    vin.producers = config().senders;
    vin.messages = config().total;
    for (uint32_t i = 0; i < record_count(); ++i) vin.record_files.push_back(record_path(dir(), i));
    vin.in_doubt = in_doubt_;
    vin.killed_consumers = killed_consumers_;

    ReportInput in;
    in.messages = config().total;
    in.seconds_paced = config().seconds;
    in.elapsed = std::max(static_cast<double>(end_ns - t0()) / 1e9, 1e-9);
    in.producer_killed = killed_producer_;
    in.verify = verify(vin);
    // Every worker is gone: a last recovery pass, then the nodes must add up.
    in.final_reclaimed = 0;
    in.final_recover_rc = cq_recover(q_.get(), &in.final_reclaimed);
    in.stats = queue_stats(q_.get());
    in.failure = failure();
    in.records_dir = dir();
    return report(in);
}

}  // namespace cqcli::demo
