#include "demo_part.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "cli.hpp"
#include "clock.hpp"
#include "interrupt.hpp"

namespace cqcli::demo_part {

namespace {

constexpr int64_t kGraceNs = 30'000'000'000;  // beyond --seconds, before giving up

}  // namespace

PartSession::PartSession(const PartText &text, const PartConfig &config, size_t control_size)
    : text_(text),
      config_(config),
      dir_(text.dir_prefix),
      control_(Mapping::file(control_path(dir_.path()), control_size, true)) {}

void PartSession::event(const std::string &what) {
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "[%5.2fs] ", seconds_since(t0_));
    progress_.println(stamp + what);
}

uint64_t PartSession::received() const {
    uint64_t s = 0;
    for (const RecordFile &f : records_) s += f.count();
    return s;
}

bool PartSession::any_running(Role role) const {
    return std::any_of(workers_.begin(), workers_.end(),
                       [role](const Worker &w) { return w.role == role && w.running; });
}

void PartSession::plan_kill(double at, std::function<void()> step) {
    kills_.push_back({at, std::move(step), false});
}

PartSession::Worker PartSession::spawn(Role role, uint32_t slot, uint32_t record, std::string name,
                                       std::vector<std::string> args) {
    args.insert(args.begin(), text_.worker_command);
    const pid_t pid = children_.spawn_self(args);
    workers_.push_back({role, slot, record, pid, true, std::move(name)});
    return workers_.back();
}

void PartSession::announce_started(const std::string &what) {
    std::string pids;
    for (const Worker &w : workers_) pids += (pids.empty() ? "" : " ") + std::to_string(w.pid);
    event("started " + what + " (pids " + pids + ")");
}

std::optional<PartSession::Worker> PartSession::kill_running(Role role, uint32_t slot) {
    for (Worker &w : workers_) {
        if (w.role != role || w.slot != slot || !w.running) continue;
        children_.kill(w.pid, SIGKILL);
        ExitStatus st;
        children_.wait(w.pid, &st);
        w.running = false;
        return w;
    }
    return std::nullopt;
}

// Notes workers that ended. False if one failed on its own (not killed by us).
bool PartSession::reap() {
    for (Worker &w : workers_) {
        if (!w.running) continue;
        ExitStatus st;
        if (!children_.wait(w.pid, &st, false)) continue;
        w.running = false;
        if (!st.exited || st.code != 0) {
            failure_ = w.name + " (pid " + std::to_string(w.pid) + ") failed: " + st.describe();
            return false;
        }
    }
    return true;
}

void PartSession::show_progress(bool force) {
    const int64_t now = now_ns();
    const int64_t every = progress_.enabled() ? 100'000'000 : 1'000'000'000;
    if (!force && now - last_progress_ns_ < every) return;
    last_progress_ns_ = now;
    const uint64_t got = received();
    if (now - rate_ns_ >= 250'000'000 || (force && now > rate_ns_)) {  // over >= 1/4 s
        rate_ = static_cast<double>(got - rate_count_) * 1e9 / static_cast<double>(now - rate_ns_);
        rate_ns_ = now;
        rate_count_ = got;
    }
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "[%5.2fs] ", static_cast<double>(now - t0_) / 1e9);
    const std::string line = stamp + progress_status(got, rate_);
    if (progress_.enabled())
        progress_.update(line);
    else
        progress_.println(line);
}

int PartSession::run() {
    InterruptGuard interrupts;
    print_intro();
    t0_ = now_ns();
    last_progress_ns_ = rate_ns_ = t0_;
    const uint64_t per_sender = share_of(config_.total, config_.senders, 0);
    interval_ns_ =
        config_.seconds > 0
            ? static_cast<int64_t>(config_.seconds * 1e9 / static_cast<double>(per_sender))
            : 0;
    start_workers();

    const int64_t poll_ns = config_.seconds > 0 ? 10'000'000 : 1'000'000;
    const int64_t deadline = t0_ + static_cast<int64_t>(config_.seconds * 1e9) + kGraceNs;
    bool stop = false;
    for (;;) {
        InterruptGuard::check(text_.interrupted);
        if (!reap()) break;
        const uint64_t s = sent();
        bool kills_done = true;
        for (KillStep &k : kills_) {
            if (!k.done && s >= static_cast<uint64_t>(k.at * static_cast<double>(config_.total))) {
                k.done = true;
                k.step();
            }
            kills_done = kills_done && k.done;
        }
        if (!stop && kills_done && !any_running(Role::sender)) {
            stop = true;
            senders_done_ns_ = now_ns();
            control<StopFlag>()->store(1, std::memory_order_release);
            show_progress(true);
            event(text_.senders_done);
        }
        if (stop && !any_running(Role::receiver)) break;
        if (now_ns() > deadline) {
            failure_ = "the demo did not finish within " +
                       std::to_string((deadline - t0_) / 1'000'000'000) + " s";
            break;
        }
        show_progress(false);
        sleep_for_ns(poll_ns);
    }
    const int64_t end = now_ns();
    if (failure_.empty()) event(text_.receivers_done);
    progress_.clear();
    stop_workers();  // after a failure: stop whatever still runs
    if (finish(end)) return kExitOk;
    dir_.keep();
    return kExitVerify;
}

void print_fail(const std::vector<std::string> &why, const std::string &kept) {
    std::string all;
    for (const std::string &w : why) all += (all.empty() ? "" : "; ") + w;
    std::printf("\nFAIL: %s\n      (%s)\n", all.c_str(), kept.c_str());
}

}  // namespace cqcli::demo_part
