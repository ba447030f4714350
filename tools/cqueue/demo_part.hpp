// The parent's side of one `cqueue demo` part, whatever the part: the temp
// directory with the control file and the record files, the worker programs
// (senders and receivers, each exec'd as `cqueue WORKER-COMMAND ...`), the
// SIGKILLs part way through, the live progress line, the wait for the
// senders and then the receivers to finish (or fail, or time out), and the
// verdict's exit code. A part derives from PartSession and adds what is its
// own: which workers to start, how to kill and restart them, what it sent,
// the progress line's counts, and the end check with its report
// (demo_session.cpp for the queue, demo_broker_session.cpp for pub/sub).
//
// Destroying a session kills any worker still running and removes the
// directory unless the run failed. A part whose resources must outlive its
// workers (the queue) calls stop_workers() in its destructor.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "demo_part_shared.hpp"
#include "mapping.hpp"
#include "proc.hpp"
#include "progress.hpp"
#include "tempdir.hpp"

namespace cqcli::demo_part {

// What the part says at the fixed points of the run.
struct PartText {
    const char *dir_prefix;      // of the temp directory, e.g. "cqueue-demo-"
    const char *worker_command;  // the hidden subcommand, e.g. "__demo-worker"
    const char *senders_done;    // event once every sender finished (and the stop flag is set)
    const char *receivers_done;  // event once every receiver finished
    const char *interrupted;     // the error after Ctrl-C
};

struct PartConfig {
    uint32_t senders;
    uint32_t receivers;
    uint64_t total;  // items the senders send, in all
    double seconds;  // pacing of the senders over about that long; 0 = as fast as possible
};

class PartSession {
  public:
    PartSession(const PartSession &) = delete;
    PartSession &operator=(const PartSession &) = delete;
    virtual ~PartSession() = default;

    // The exit code: kExitOk on PASS, kExitVerify on FAIL. Throws on errors.
    int run();

  protected:
    enum class Role { sender, receiver };
    struct Worker {
        Role role;
        uint32_t slot;    // sender id, or receiver number
        uint32_t record;  // receivers: index of the record file
        pid_t pid;
        bool running;
        std::string name;  // for a failure: "producer 0", "subscriber demo-sub-1"
    };

    PartSession(const PartText &text, const PartConfig &config, size_t control_size);

    // ---- The part's own steps, in the order run() calls them.
    // Prints what the part will do, before the clock starts.
    virtual void print_intro() const = 0;
    // Spawns every worker, then calls announce_started().
    virtual void start_workers() = 0;
    // Items the senders have sent so far (from the control file).
    virtual uint64_t sent() const = 0;
    // The progress line after its "[ 1.23s] " stamp; `received` is the sum
    // of the record files' counts, `rate` of it per second.
    virtual std::string progress_status(uint64_t received, double rate) const = 0;
    // Verifies and reports, with every worker gone; end_ns is when the last
    // receiver finished (or the run failed). True for PASS.
    virtual bool finish(int64_t end_ns) = 0;

    // ---- For the part.
    // Runs step once, the first time sent() reaches `at` (a fraction of
    // config().total). The senders_done event waits until every step ran.
    void plan_kill(double at, std::function<void()> step);
    // Starts `cqueue WORKER-COMMAND args...` and notes it as running.
    Worker spawn(Role role, uint32_t slot, uint32_t record, std::string name,
                 std::vector<std::string> args);
    void announce_started(const std::string &what);
    // SIGKILLs the running worker (role, slot) and reaps it: its files no
    // longer change. Nothing if no such worker runs.
    std::optional<Worker> kill_running(Role role, uint32_t slot);
    // Kills and reaps every worker still running.
    void stop_workers() { children_.kill_all(); }
    // Keeps a new receiver's record file (made with create = true); its index
    // is record_count() before the call.
    void add_record_file(RecordFile file) { records_.push_back(std::move(file)); }
    uint32_t record_count() const { return static_cast<uint32_t>(records_.size()); }
    const RecordFile &record_file(uint32_t index) const { return records_[index]; }
    // Items the receivers recorded, in all their record files.
    uint64_t received() const;
    // "[ 1.23s] what" above the progress line.
    void event(const std::string &what);

    const PartConfig &config() const { return config_; }
    const std::string &dir() const { return dir_.path(); }
    template <class Control>
    Control *control() const {
        return control_.as<Control>();
    }
    int64_t t0() const { return t0_; }
    int64_t interval_ns() const { return interval_ns_; }
    int64_t senders_done_ns() const { return senders_done_ns_; }  // 0 if never
    // A worker that failed by itself, or the timeout; empty if neither.
    const std::string &failure() const { return failure_; }

  private:
    struct KillStep {
        double at;
        std::function<void()> step;
        bool done;
    };

    bool reap();
    bool any_running(Role role) const;
    void show_progress(bool force);

    PartText text_;
    PartConfig config_;
    TempDir dir_;
    Mapping control_;
    std::vector<RecordFile> records_;  // every receiver incarnation's record file
    std::vector<KillStep> kills_;
    std::string failure_;
    int64_t t0_ = 0;
    int64_t interval_ns_ = 0;
    int64_t senders_done_ns_ = 0;
    ProgressLine progress_;
    int64_t last_progress_ns_ = 0;
    int64_t rate_ns_ = 0;
    uint64_t rate_count_ = 0;
    double rate_ = 0;
    Children children_;  // after the rest: workers die before it is torn down
    std::vector<Worker> workers_;
};

// Prints the FAIL line: the reasons, and what was kept for inspection.
void print_fail(const std::vector<std::string> &why, const std::string &kept);

}  // namespace cqcli::demo_part
