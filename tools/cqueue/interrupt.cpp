#include "interrupt.hpp"

#include "cli.hpp"

namespace cqcli {

namespace {
// The one piece of global state of the tool: a signal handler can set nothing else.
volatile sig_atomic_t g_interrupted = 0;
void on_interrupt(int) {
    g_interrupted = 1;
}
}  // namespace

InterruptGuard::InterruptGuard() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &sa, &old_[i]);
}

InterruptGuard::~InterruptGuard() {
    for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &old_[i], nullptr);
}

void InterruptGuard::check(const char *what) {
    if (g_interrupted) throw SysError(what);
}

bool InterruptGuard::interrupted() {
    return g_interrupted != 0;
}

}  // namespace cqcli
