// Futex wait and wake on 32-bit words in shared memory. Shared (not
// FUTEX_PRIVATE) because waiters and wakers are in different processes.
#pragma once

#include <cstdint>

namespace cq {

// Sleeps while *word == expected, until woken or the absolute CLOCK_MONOTONIC
// deadline (UINT64_MAX = none). Returns false on timeout, true otherwise
// (woken, value changed, or interrupted: callers re-check their condition).
bool futex_wait(const uint32_t *word, uint32_t expected, uint64_t deadline_ns) noexcept;

// Wakes up to n waiters on word.
void futex_wake(const uint32_t *word, int n) noexcept;

}  // namespace cq
