// A shared-memory queue attached to a pool (pool_attach_queue): the queue,
// the handler, and per-worker receive buffers allocated once at attach.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/queue/queue.hpp"

namespace cq {

using MessageFn = void (*)(void *ctx, const void *data, size_t len);

struct PoolAttachment {
    Queue *queue;
    MessageFn handler;
    void *ctx;
    uint32_t per_worker;                     // messages per dequeue_batch
    size_t msg_cap;                          // bytes per buffer (the queue's max message size)
    std::unique_ptr<unsigned char[]> bytes;  // workers x per_worker x msg_cap
    std::unique_ptr<MutBuf[]> bufs;          // workers x per_worker

    MutBuf *bufs_of(uint32_t worker) const { return bufs.get() + size_t{worker} * per_worker; }
};

}  // namespace cq
