// Error codes of the core and the per-thread error detail.
//
// The numeric values equal the CQ_E* codes of the C API (capi static_asserts
// that); the core does not include the C headers. fail() records a detail
// text for the calling thread and returns the code, so call sites read
// `return fail(Errc::full, "queue %s is full", name);`.
#pragma once

#include <cstdint>

namespace cq {

enum class Errc : int {
    ok = 0,
    empty = -1,
    full = -2,
    timedout = -3,
    msgsize = -4,
    inval = -5,
    noent = -6,
    exist = -7,
    perm = -8,
    corrupt = -9,
    version = -10,
    nomem = -11,
    io = -12,
    closed = -13,
    canceled = -14,
    busy = -15,
    foreign = -16,
};

constexpr int to_int(Errc e) {
    return static_cast<int>(e);
}

// Static English text for a code (never null).
const char *errc_text(int code) noexcept;

// Records "detail" (printf-style) as this thread's last error and returns e.
Errc fail(Errc e, const char *fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

// As fail(), appending ": strerror(errno_value)".
Errc fail_errno(Errc e, int errno_value, const char *fmt, ...) noexcept
    __attribute__((format(printf, 3, 4)));

// As fail() with a static text and no formatting: for codes returned on hot
// paths (CQ_EEMPTY while polling), which must still not leave stale text.
Errc fail_static(Errc e, const char *text) noexcept;

// Maps an errno value from open/mmap/ftruncate to the closest code.
Errc errc_from_errno(int errno_value) noexcept;

// This thread's last detail text; "" if none.
const char *last_error() noexcept;
void clear_last_error() noexcept;

}  // namespace cq
