// One run of the pub/sub part of `cqueue demo`: the parent's side. Creates a
// broker directory in the part's temp directory, starts publisher and durable
// subscriber programs, SIGKILLs one subscriber part way through and restarts
// it with the same durable id, and at the end verifies and reports. The temp
// directory, the worker processes, the progress line and the run's loop are
// PartSession's (demo_part.hpp). Destroying it kills any worker still running
// and removes the directory (unless the run failed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "broker_cli.hpp"
#include "demo_broker_shared.hpp"
#include "demo_broker_verify.hpp"
#include "demo_part.hpp"

namespace cqcli::broker_demo {

inline constexpr double kKillSubscriberAt = 0.40;  // fraction of the records published

class BrokerDemoSession : public demo_part::PartSession {
  public:
    // Senders are publishers, receivers subscribers, the total is in records.
    explicit BrokerDemoSession(const demo_part::PartConfig &config);
    ~BrokerDemoSession() override { stop_workers(); }  // before the broker is closed

  private:
    void print_intro() const override;
    void start_workers() override;
    uint64_t sent() const override;
    std::string progress_status(uint64_t received, double rate) const override;
    bool finish(int64_t end_ns) override;

    Worker spawn_publisher(uint32_t id);
    Worker spawn_subscriber(uint32_t slot, uint64_t start_offset);
    void kill_subscriber();
    uint64_t acked_offset(uint32_t slot);

    Control *ctl_;
    BrokerPtr broker_;  // the parent's handle: metrics only
    std::vector<SubscriberRuns> runs_;
    VerifyInput kill_;  // the kill's fields only
};

}  // namespace cqcli::broker_demo
