// One run of the queue part of `cqueue demo`: the parent's side. Creates the
// queue, starts producer and consumer programs, kills and restarts one
// consumer and one producer part way through (recovering after each), and at
// the end verifies and reports. The temp directory, the worker processes, the
// progress line and the run's loop are PartSession's (demo_part.hpp).
// Destroying it kills any worker still running, then removes the queue and
// (unless the run failed) the directory.
#pragma once

#include <cqueue/cqueue.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli.hpp"
#include "demo_part.hpp"
#include "demo_shared.hpp"
#include "demo_verify.hpp"

namespace cqcli::demo {

inline constexpr double kKillConsumerAt = 0.30;  // fraction of the messages sent
inline constexpr double kKillProducerAt = 0.50;

class DemoSession : public demo_part::PartSession {
  public:
    // Senders are producers, receivers consumers, the total is in messages.
    explicit DemoSession(const demo_part::PartConfig &config);
    ~DemoSession() override { stop_workers(); }  // before the queue is closed and removed

  private:
    void print_intro() const override;
    void start_workers() override;
    uint64_t sent() const override;
    std::string progress_status(uint64_t received, double rate) const override;
    bool finish(int64_t end_ns) override;

    Worker spawn_producer(uint32_t id);
    Worker spawn_consumer(uint32_t slot);
    void kill_consumer();
    void kill_producer();
    void recover();

    std::string name_;
    Control *ctl_;
    std::unique_ptr<UnlinkGuard> unlink_;  // removes the queue, also on failure
    QueuePtr q_;                           // the parent's handle: stats and recovery
    std::vector<InDoubt> in_doubt_;
    uint32_t killed_consumers_ = 0;
    bool killed_producer_ = false;
};

}  // namespace cqcli::demo
