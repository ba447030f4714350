// Ctrl-C (SIGINT), SIGTERM and SIGHUP while bench or demo runs: instead of
// dying at once (leaving the queue and the workers behind), the command
// notices interrupted(), and its destructors kill the workers and remove the
// queue. The previous handlers come back when the guard goes out of scope.
#pragma once

#include <signal.h>

#include <iterator>

namespace cqcli {

class InterruptGuard {
  public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard &) = delete;
    InterruptGuard &operator=(const InterruptGuard &) = delete;

    // Throws SysError(what) once one of the signals arrived.
    static void check(const char *what = "interrupted; workers stopped and queue removed");
    // True once one of the signals arrived (for commands that stop cleanly).
    static bool interrupted();

  private:
    static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction old_[std::size(kSignals)]{};
};

}  // namespace cqcli
