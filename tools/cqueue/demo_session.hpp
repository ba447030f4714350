// One run of `cqueue demo`: the parent's side. Creates the queue and the temp
// directory, starts the worker programs, shows progress, kills and restarts
// one consumer and one producer part way through (recovering after each),
// and at the end verifies and reports. Destroying it kills any worker still
// running, removes the queue and (unless the run failed) the directory.
#pragma once

#include <cqueue/cqueue.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli.hpp"
#include "demo_shared.hpp"
#include "demo_verify.hpp"
#include "mapping.hpp"
#include "proc.hpp"
#include "progress.hpp"
#include "tempdir.hpp"

namespace cqcli::demo {

struct DemoConfig {
    uint32_t producers = 2;
    uint32_t consumers = 2;
    uint64_t messages = 200'000;
    double seconds = 3;  // pacing of the producers; 0 = as fast as possible
};

inline constexpr double kKillConsumerAt = 0.30;  // fraction of the messages sent
inline constexpr double kKillProducerAt = 0.50;

class DemoSession {
  public:
    explicit DemoSession(const DemoConfig &cfg);
    // The exit code: kExitOk on PASS, kExitVerify on FAIL. Throws on errors.
    int run();

  private:
    enum class Role { producer, consumer };
    struct Worker {
        Role role;
        uint32_t slot;    // producer id, or consumer number
        uint32_t record;  // consumers: index of the record file
        pid_t pid;
        bool running;
    };

    void print_intro() const;
    void spawn_producer(uint32_t id);
    void spawn_consumer(uint32_t slot);
    Worker *find_running(Role role, uint32_t slot);
    bool reap();
    void kill_consumer();
    void kill_producer();
    void recover();
    void show_progress(bool force);
    int finish(int64_t end_ns);

    uint64_t sent() const;
    uint64_t received() const;
    bool any_running(Role role) const;
    void event(const std::string &what);

    DemoConfig cfg_;
    std::string name_;
    TempDir dir_;
    Mapping ctl_map_;
    Control *ctl_;
    std::unique_ptr<UnlinkGuard> unlink_;  // removes the queue, also on failure
    QueuePtr q_;                           // the parent's handle: stats and recovery
    std::vector<Mapping> records_;         // every consumer incarnation's record file
    std::vector<InDoubt> in_doubt_;
    uint32_t killed_consumers_ = 0;
    bool killed_producer_ = false;
    std::string failure_;  // a worker that failed by itself, or a timeout
    int64_t t0_ = 0;
    int64_t interval_ns_ = 0;
    ProgressLine progress_;
    int64_t last_progress_ns_ = 0;
    int64_t rate_ns_ = 0;
    uint64_t rate_count_ = 0;
    double rate_ = 0;
    Children children_;  // after the rest: workers die before it is torn down
    std::vector<Worker> workers_;
};

}  // namespace cqcli::demo
