// Monotonic time in nanoseconds (system-wide, so it means the same in every
// process) and sleeping.
#pragma once

#include <time.h>

#include <cstdint>

namespace cqcli {

inline int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline void sleep_for_ns(int64_t ns) {
    if (ns <= 0) return;
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

inline double seconds_since(int64_t start_ns) {
    return static_cast<double>(now_ns() - start_ns) / 1e9;
}

}  // namespace cqcli
