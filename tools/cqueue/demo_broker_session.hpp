// One run of the pub/sub part of `cqueue demo`: the parent's side. Creates a
// temp directory with a broker directory in it, starts publisher and durable
// subscriber programs, shows progress, SIGKILLs one subscriber part way
// through and restarts it with the same durable id, and at the end verifies
// and reports. Destroying it kills any worker still running and removes the
// directory (unless the run failed).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "broker_cli.hpp"
#include "demo_broker_shared.hpp"
#include "demo_broker_verify.hpp"
#include "mapping.hpp"
#include "proc.hpp"
#include "progress.hpp"
#include "tempdir.hpp"

namespace cqcli::broker_demo {

struct BrokerDemoConfig {
    uint32_t publishers = 3;
    uint32_t subscribers = 3;
    uint64_t records = 30'000;
    double seconds = 3;  // pacing of the publishers; 0 = as fast as possible
};

inline constexpr double kKillSubscriberAt = 0.40;  // fraction of the records published

class BrokerDemoSession {
  public:
    explicit BrokerDemoSession(const BrokerDemoConfig &cfg);
    // The exit code: kExitOk on PASS, kExitVerify on FAIL. Throws on errors.
    int run();

  private:
    enum class Role { publisher, subscriber };
    struct Worker {
        Role role;
        uint32_t slot;    // publisher id, or subscriber number
        uint32_t record;  // subscribers: index of the record file
        pid_t pid;
        bool running;
    };

    void print_intro() const;
    void spawn_publisher(uint32_t id);
    void spawn_subscriber(uint32_t slot, uint64_t start_offset);
    Worker *find_running(Role role, uint32_t slot);
    bool reap();
    void kill_subscriber();
    uint64_t acked_offset(uint32_t slot);
    void show_progress(bool force);
    int finish(int64_t end_ns);

    uint64_t published() const;
    uint64_t recorded(uint32_t record) const;
    uint64_t delivered() const;
    bool any_running(Role role) const;
    void event(const std::string &what);

    BrokerDemoConfig cfg_;
    TempDir dir_;
    Mapping ctl_map_;
    Control *ctl_;
    BrokerPtr broker_;              // the parent's handle: metrics only
    std::vector<Mapping> records_;  // every subscriber incarnation's record file
    std::vector<SubscriberRuns> runs_;
    VerifyInput kill_;  // the kill's fields only
    std::string failure_;
    int64_t t0_ = 0;
    int64_t interval_ns_ = 0;
    int64_t publish_end_ns_ = 0;
    ProgressLine progress_;
    int64_t last_progress_ns_ = 0;
    int64_t rate_ns_ = 0;
    uint64_t rate_count_ = 0;
    double rate_ = 0;
    Children children_;  // after the rest: workers die before it is torn down
    std::vector<Worker> workers_;
};

}  // namespace cqcli::broker_demo
