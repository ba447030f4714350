#include "demo_session.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "clock.hpp"
#include "demo_report.hpp"
#include "format.hpp"
#include "interrupt.hpp"

namespace cqcli::demo {

namespace {

constexpr int64_t kGraceNs = 30'000'000'000;  // beyond --seconds, before giving up

std::string unique_queue_name() {
    std::random_device rd;
    char buf[64];
    std::snprintf(buf, sizeof buf, "cqueue-demo-%d-%08x", static_cast<int>(getpid()), rd());
    return buf;
}

}  // namespace

DemoSession::DemoSession(const DemoConfig &cfg)
    : cfg_(cfg),
      name_(unique_queue_name()),
      dir_("cqueue-demo-"),
      ctl_map_(Mapping::file(control_path(dir_.path()), sizeof(Control), true)),
      ctl_(ctl_map_.as<Control>()) {
    cq_queue_options o = CQ_QUEUE_OPTIONS_INIT;
    o.capacity = kQueueCapacity;
    o.max_message_size = kQueueMaxMessage;
    q_ = open_queue(name_, CQ_CREATE | CQ_EXCL, &o);  // only then is the name ours to remove
    unlink_ = std::make_unique<UnlinkGuard>(name_);
}

void DemoSession::event(const std::string &what) {
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "[%5.2fs] ", seconds_since(t0_));
    progress_.println(stamp + what);
}

uint64_t DemoSession::sent() const {
    uint64_t s = 0;
    for (uint32_t p = 0; p < cfg_.producers; ++p) s += ctl_->producer[p].done.load();
    return s;
}

uint64_t DemoSession::received() const {
    uint64_t s = 0;
    for (const Mapping &m : records_) s += m.as<RecordHeader>()->count.load();
    return s;
}

bool DemoSession::any_running(Role role) const {
    return std::any_of(workers_.begin(), workers_.end(),
                       [role](const Worker &w) { return w.role == role && w.running; });
}

DemoSession::Worker *DemoSession::find_running(Role role, uint32_t slot) {
    for (Worker &w : workers_)
        if (w.role == role && w.slot == slot && w.running) return &w;
    return nullptr;
}

void DemoSession::spawn_producer(uint32_t id) {
    pid_t pid = children_.spawn_self({"__demo-worker", "producer", "--queue", name_, "--dir",
                                      dir_.path(), "--id", std::to_string(id), "--producers",
                                      std::to_string(cfg_.producers), "--messages",
                                      std::to_string(cfg_.messages), "--t0", std::to_string(t0_),
                                      "--interval", std::to_string(interval_ns_)});
    workers_.push_back({Role::producer, id, 0, pid, true});
}

void DemoSession::spawn_consumer(uint32_t slot) {
    const uint32_t record = static_cast<uint32_t>(records_.size());
    records_.push_back(
        Mapping::file(record_path(dir_.path(), record), record_file_size(cfg_.messages), true));
    pid_t pid = children_.spawn_self({"__demo-worker", "consumer", "--queue", name_, "--dir",
                                      dir_.path(), "--record", std::to_string(record),
                                      "--producers", std::to_string(cfg_.producers), "--messages",
                                      std::to_string(cfg_.messages)});
    workers_.push_back({Role::consumer, slot, record, pid, true});
}

// Notes workers that ended. False if one failed on its own (not killed by us).
bool DemoSession::reap() {
    for (Worker &w : workers_) {
        if (!w.running) continue;
        ExitStatus st;
        if (!children_.wait(w.pid, &st, false)) continue;
        w.running = false;
        if (!st.exited || st.code != 0) {
            failure_ = std::string(w.role == Role::producer ? "producer " : "consumer ") +
                       std::to_string(w.slot) + " (pid " + std::to_string(w.pid) +
                       ") failed: " + st.describe();
            return false;
        }
    }
    return true;
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
    Worker *w = find_running(Role::consumer, 0);
    if (!w) return;
    const pid_t pid = w->pid;
    const uint32_t record = w->record;
    children_.kill(pid, SIGKILL);
    ExitStatus st;
    children_.wait(pid, &st);
    w->running = false;
    ++killed_consumers_;
    const uint64_t reported = records_[record].as<RecordHeader>()->count.load();
    event("SIGKILL consumer 0 (pid " + std::to_string(pid) + "); it had recorded " +
          plural(reported, "message"));
    recover();
    spawn_consumer(0);
    event("restarted consumer 0 (pid " + std::to_string(workers_.back().pid) +
          "), recording into " + record_path(".", workers_.back().record).substr(2));
}

void DemoSession::kill_producer() {
    Worker *w = find_running(Role::producer, 0);
    if (!w) {
        event("producer 0 had already finished: nothing to kill");
        return;
    }
    const pid_t pid = w->pid;
    children_.kill(pid, SIGKILL);
    ExitStatus st;
    children_.wait(pid, &st);
    w->running = false;
    killed_producer_ = true;
    // The process is gone: its slot no longer changes.
    const ProducerSlot &slot = ctl_->producer[0];
    const uint64_t trying = slot.trying.load(), done = slot.done.load();
    std::string what = "SIGKILL producer 0 (pid " + std::to_string(pid) + "): ";
    what += done == 0 ? "nothing enqueued yet" : "seq 0.." + std::to_string(done - 1) + " enqueued";
    if (trying > done) {
        in_doubt_.push_back({0, done, false});
        what += "; seq " + std::to_string(done) +
                " was inside cq_enqueue (in doubt: it will not be sent again)";
    }
    event(what);
    recover();
    spawn_producer(0);
    event("restarted producer 0 (pid " + std::to_string(workers_.back().pid) +
          "): resumes at seq " + std::to_string(std::max(trying, done)));
}

void DemoSession::show_progress(bool force) {
    const int64_t now = now_ns();
    const int64_t every = progress_.enabled() ? 100'000'000 : 1'000'000'000;
    if (!force && now - last_progress_ns_ < every) return;
    last_progress_ns_ = now;
    const uint64_t recv = received();
    if (now - rate_ns_ >= 250'000'000 || (force && now > rate_ns_)) {  // over >= 1/4 s
        rate_ = static_cast<double>(recv - rate_count_) * 1e9 / static_cast<double>(now - rate_ns_);
        rate_ns_ = now;
        rate_count_ = recv;
    }
    uint64_t length = 0;
    cq_queue_stats s = CQ_QUEUE_STATS_INIT;
    if (cq_stats(q_.get(), &s) == CQ_OK) length = s.length;
    char line[200];
    std::snprintf(
        line, sizeof line, "[%5.2fs] sent %llu/%llu  received %llu  queue %llu  %s msgs/s",
        static_cast<double>(now - t0_) / 1e9, static_cast<unsigned long long>(sent()),
        static_cast<unsigned long long>(cfg_.messages), static_cast<unsigned long long>(recv),
        static_cast<unsigned long long>(length), human_count(rate_).c_str());
    if (progress_.enabled())
        progress_.update(line);
    else
        progress_.println(line);
}

void DemoSession::print_intro() const {
    std::printf("cqueue demo: %u producer(s) -> %u consumer(s), %llu messages, ", cfg_.producers,
                cfg_.consumers, static_cast<unsigned long long>(cfg_.messages));
    if (cfg_.seconds > 0)
        std::printf("sending paced over ~%g s\n", cfg_.seconds);
    else
        std::printf("sending as fast as possible\n");
    std::printf("  queue    %s (capacity %u messages of up to %u bytes)\n", name_.c_str(),
                kQueueCapacity, kQueueMaxMessage);
    std::printf(
        "  workers  separate programs ('cqueue __demo-worker') that open the queue by name\n");
    std::printf("  records  %s\n", dir_.path().c_str());
    std::printf(
        "  plan     SIGKILL consumer 0 at %.0f%% and producer 0 at %.0f%% of the messages\n"
        "           sent; after each, cq_recover and a restart; then verify delivery\n\n",
        kKillConsumerAt * 100, kKillProducerAt * 100);
    std::fflush(stdout);
}

int DemoSession::run() {
    InterruptGuard interrupts;
    print_intro();
    t0_ = now_ns();
    last_progress_ns_ = rate_ns_ = t0_;
    const uint64_t per_producer = messages_of(cfg_.messages, cfg_.producers, 0);
    interval_ns_ =
        cfg_.seconds > 0
            ? static_cast<int64_t>(cfg_.seconds * 1e9 / static_cast<double>(per_producer))
            : 0;
    for (uint32_t p = 0; p < cfg_.producers; ++p) spawn_producer(p);
    for (uint32_t c = 0; c < cfg_.consumers; ++c) spawn_consumer(c);
    {
        std::string pids;
        for (const Worker &w : workers_) pids += (pids.empty() ? "" : " ") + std::to_string(w.pid);
        event("started " + plural(cfg_.producers, "producer") + " and " +
              plural(cfg_.consumers, "consumer") + " (pids " + pids + ")");
    }

    const uint64_t total = cfg_.messages;
    const int64_t poll_ns = cfg_.seconds > 0 ? 10'000'000 : 1'000'000;
    const int64_t deadline = t0_ + static_cast<int64_t>(cfg_.seconds * 1e9) + kGraceNs;
    bool consumer_killed = false, producer_killed = false, stop = false;
    for (;;) {
        InterruptGuard::check();
        if (!reap()) break;
        const uint64_t s = sent();
        if (!consumer_killed && s >= static_cast<uint64_t>(kKillConsumerAt * total)) {
            consumer_killed = true;
            kill_consumer();
        }
        if (!producer_killed && s >= static_cast<uint64_t>(kKillProducerAt * total)) {
            producer_killed = true;
            kill_producer();
        }
        if (!stop && !any_running(Role::producer)) {
            stop = true;
            ctl_->stop.store(1, std::memory_order_release);
            show_progress(true);
            event("all producers done; the consumers drain the queue and stop");
        }
        if (stop && !any_running(Role::consumer)) break;
        if (now_ns() > deadline) {
            failure_ = "the demo did not finish within " +
                       std::to_string((deadline - t0_) / 1'000'000'000) + " s";
            break;
        }
        show_progress(false);
        sleep_for_ns(poll_ns);
    }
    const int64_t end = now_ns();
    if (failure_.empty()) event("all consumers done");
    progress_.clear();
    return finish(end);
}

int DemoSession::finish(int64_t end_ns) {
    children_.kill_all();  // after a failure: stop whatever still runs
    VerifyInput vin;
    vin.producers = cfg_.producers;
    vin.messages = cfg_.messages;
    for (uint32_t i = 0; i < records_.size(); ++i)
        vin.record_files.push_back(record_path(dir_.path(), i));
    vin.in_doubt = in_doubt_;
    vin.killed_consumers = killed_consumers_;

    ReportInput in;
    in.messages = cfg_.messages;
    in.seconds_paced = cfg_.seconds;
    in.elapsed = std::max(static_cast<double>(end_ns - t0_) / 1e9, 1e-9);
    in.producer_killed = killed_producer_;
    in.verify = verify(vin);
    // Every worker is gone: a last recovery pass, then the nodes must add up.
    in.final_reclaimed = 0;
    in.final_recover_rc = cq_recover(q_.get(), &in.final_reclaimed);
    in.stats = queue_stats(q_.get());
    in.failure = failure_;
    in.records_dir = dir_.path();
    if (report(in)) return kExitOk;
    dir_.keep();
    return kExitVerify;
}

}  // namespace cqcli::demo
