// A cancel token shared by the caller and the jobs that name it.
//
// Reference-counted so that the caller may drop its reference at any time:
// every queued job holds one (taken at submit, before the job is published,
// dropped after its cleanup), the creator holds the first. No allocation
// per job: retaining is one atomic increment.
#pragma once

#include <atomic>
#include <cstdint>
#include <new>

namespace cq {

class CancelToken {
  public:
    static CancelToken *create() noexcept { return new (std::nothrow) CancelToken; }

    // release/acquire: whatever the canceller wrote before cancel() is
    // visible to the cleanup that observes the cancellation.
    void cancel() noexcept { cancelled_.store(1, std::memory_order_release); }
    bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire) != 0; }

    // relaxed: taking a reference needs no ordering; the holder already has
    // one (the caller's), so the count cannot reach zero concurrently.
    void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }

    // acq_rel: every holder's uses happen-before the delete by the last one.
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

  private:
    CancelToken() = default;
    std::atomic<uint32_t> refs_{1};
    std::atomic<uint32_t> cancelled_{0};
};

}  // namespace cq
