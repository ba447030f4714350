// Child processes for bench and demo: fork (running a function) or fork+exec
// of this same program, CPU pinning, reaping, and a description of the
// machine for benchmark reports.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace cqcli {

// The CPUs this process may run on (sched_getaffinity), in increasing order.
std::vector<int> allowed_cpus();
// Pins the calling process to one CPU. False (errno set) on failure.
bool pin_to_cpu(int cpu);
// "Linux 6.1.0-18-amd64 x86_64, 2 CPUs (Intel(R) Xeon(R) ...)".
std::string machine_summary();
// The command line, for "reproduce with".
std::string command_line(int argc, char **argv);

struct ExitStatus {
    bool exited = false;  // normal exit: code is valid
    int code = 0;
    int signal = 0;  // killed by this signal
    std::string describe() const;
};

// Owns child processes: whatever is still running when it is destroyed is
// SIGKILLed and reaped, so a failing parent leaves no workers behind.
class Children {
  public:
    Children() = default;
    ~Children() { kill_all(); }
    Children(const Children &) = delete;
    Children &operator=(const Children &) = delete;

    // fork(); the child runs body and _exits with its return value (1 if it
    // throws; the error goes to stderr as "cqueue WHO: ..."). The child must
    // open its queues itself.
    pid_t fork_run(const std::string &who, const std::function<int()> &body);
    // fork() and exec this program (/proc/self/exe) with args (argv[1..]).
    pid_t spawn_self(const std::vector<std::string> &args);
    // Waits for pid (blocking) or polls it (nonblocking: false if still running).
    bool wait(pid_t pid, ExitStatus *status, bool block = true);
    void kill(pid_t pid, int sig);
    void kill_all();
    bool running(pid_t pid) const;

  private:
    std::vector<pid_t> pids_;
    void forget(pid_t pid);
};

}  // namespace cqcli
