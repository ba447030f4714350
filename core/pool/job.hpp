// A job as the pool stores it, and the caller's description of one.
//
// JobDesc is layout-compatible with the C API's cq_job (capi static_asserts
// it) so batches pass through the shim without a copy; Job is what a queue
// slot holds: the fields a worker needs, nothing else.
#pragma once

#include <cstdint>

namespace cq {

class CancelToken;

using JobFn = void (*)(void *arg);
using CleanupFn = void (*)(void *arg, int status);

struct JobDesc {
    uint32_t struct_size;
    uint32_t priority;
    JobFn fn;
    void *arg;
    CleanupFn cleanup;
    int64_t deadline_ns;  // absolute CLOCK_MONOTONIC; 0 = none
    CancelToken *cancel;
};

struct Job {
    JobFn fn;
    void *arg;
    CleanupFn cleanup;
    uint64_t deadline_ns;  // 0 = none
    CancelToken *cancel;   // holds one reference while queued (see cancel_token.hpp)
};

}  // namespace cq
