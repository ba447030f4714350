// Helpers shared by the tests: unique names, replayable seeds, child
// processes (fork + exec of the worker program), temporary directories,
// bounded waits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace cqtest {

// Polls done() every millisecond until it holds or timeout_ms have passed;
// returns its last value. For conditions another thread or process makes
// true (never to time anything).
template <typename Done>
bool wait_until(Done done, int timeout_ms) {
    for (int ms = 0; ms < timeout_ms; ++ms) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return done();
}

// A queue name no other test run uses: "cqt-<tag>-<pid>-<n>".
std::string unique_name(const std::string &tag);

// The seed of a randomised test: $CQ_TEST_SEED if set, else random. Printed
// with the line to replay it.
uint64_t seed_for(const std::string &test);

// Starts `program args...` (fork + execv); returns the pid.
pid_t spawn(const std::string &program, const std::vector<std::string> &args);
// Waits for pid; returns its raw wait status.
int wait_status(pid_t pid);
// Sends sig (if still running) and reaps it.
void kill_and_reap(pid_t pid, int sig);

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::string &path() const { return path_; }
    std::string file(const std::string &name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

// Reads a whole file ("" if missing).
std::string read_file(const std::string &path);

}  // namespace cqtest
