#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace cqcli {

ProgressLine::ProgressLine() : tty_(isatty(STDERR_FILENO) == 1) {}

void ProgressLine::update(const std::string &status) {
    if (!tty_) return;
    // \033[K erases what a longer previous status left behind.
    std::fprintf(stderr, "\r%s\033[K", status.c_str());
    std::fflush(stderr);
    shown_ = status;
}

void ProgressLine::clear() {
    if (!tty_ || shown_.empty()) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_.clear();
}

void ProgressLine::println(const std::string &line) {
    std::string keep = shown_;
    clear();
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (!keep.empty()) update(keep);
}

}  // namespace cqcli
