// extern "C" shims for the queue: check arguments, cast the handle, call the
// core, map the result. No algorithm lives here.
#include "cqueue/queue.h"

#include <climits>
#include <cstddef>
#include <cstring>
#include <memory>

#include "capi/src/shim.hpp"
#include "core/queue/queue.hpp"

using cq::Errc;
using cq::to_int;
using cq::capi::guard;
using cq::capi::inval;

static_assert(sizeof(cq_iov) == sizeof(cq::ConstBuf) &&
              offsetof(cq_iov, data) == offsetof(cq::ConstBuf, data) &&
              offsetof(cq_iov, len) == offsetof(cq::ConstBuf, len));
static_assert(sizeof(cq_rbuf) == sizeof(cq::MutBuf) &&
              offsetof(cq_rbuf, data) == offsetof(cq::MutBuf, data) &&
              offsetof(cq_rbuf, cap) == offsetof(cq::MutBuf, cap) &&
              offsetof(cq_rbuf, len) == offsetof(cq::MutBuf, len));

namespace {
cq::Queue *impl(cq_queue *q) {
    return reinterpret_cast<cq::Queue *>(q);
}

// The options struct as of 1.0; callers built against older headers pass a
// smaller struct_size (none exist yet), newer ones a larger one.
constexpr uint32_t kOptionsV1 = offsetof(cq_queue_options, mode) + sizeof(uint32_t);
constexpr uint32_t kStatsV1 = offsetof(cq_queue_stats, reclaimed) + sizeof(uint64_t);
constexpr uint32_t kKnownFlags = CQ_CREATE | CQ_EXCL | CQ_NO_RECOVER;
}  // namespace

extern "C" {

CQ_API void cq_queue_options_init(cq_queue_options *opts) {
    if (!opts) return;
    *opts = cq_queue_options CQ_QUEUE_OPTIONS_INIT;
}

CQ_API int cq_open(const char *name, const cq_queue_options *opts, cq_queue **out) {
    return guard([&] {
        if (!out) return inval("cq_open: out is NULL");
        *out = nullptr;
        if (!name) return inval("cq_open: name is NULL");
        cq::RegionParams p;
        if (!opts) {
            p.create = true;  // attach, or create with the defaults
        } else {
            if (opts->struct_size < kOptionsV1 || opts->struct_size > sizeof(cq_queue_options))
                return to_int(cq::fail(Errc::inval,
                                       "cq_open: options struct_size %u, expected %zu (use "
                                       "cq_queue_options_init)",
                                       opts->struct_size, sizeof(cq_queue_options)));
            if (opts->flags & ~kKnownFlags)
                return to_int(cq::fail(Errc::inval, "cq_open: unknown flags 0x%x",
                                       opts->flags & ~kKnownFlags));
            if ((opts->flags & CQ_EXCL) && !(opts->flags & CQ_CREATE))
                return inval("cq_open: CQ_EXCL needs CQ_CREATE");
            p.create = opts->flags & CQ_CREATE;
            p.excl = opts->flags & CQ_EXCL;
            p.capacity = opts->capacity;
            p.max_message_size = opts->max_message_size;
            p.mode = opts->mode;
            p.auto_recover = !(opts->flags & CQ_NO_RECOVER);
        }
        std::unique_ptr<cq::Queue> q;
        if (Errc e = cq::Queue::open(name, p, &q); e != Errc::ok) return to_int(e);
        *out = reinterpret_cast<cq_queue *>(q.release());
        return CQ_OK;
    });
}

CQ_API int cq_close(cq_queue *q) {
    return guard([&] {
        delete impl(q);
        return CQ_OK;
    });
}

CQ_API int cq_unlink(const char *name) {
    return guard([&] { return to_int(cq::Region::unlink(name)); });
}

CQ_API int cq_enqueue(cq_queue *q, const void *data, size_t len) {
    return guard([&] {
        if (!q) return inval("cq_enqueue: queue is NULL");
        if (!data && len) return inval("cq_enqueue: data is NULL but len is not 0");
        return to_int(impl(q)->enqueue(data, len));
    });
}

CQ_API int cq_dequeue(cq_queue *q, void *buf, size_t cap, size_t *len) {
    return guard([&] {
        if (!q) return inval("cq_dequeue: queue is NULL");
        if (!len) return inval("cq_dequeue: len is NULL");
        if (!buf && cap) return inval("cq_dequeue: buf is NULL but cap is not 0");
        return to_int(impl(q)->dequeue(buf, cap, len));
    });
}

CQ_API int cq_enqueue_wait(cq_queue *q, const void *data, size_t len, int64_t timeout_ns) {
    return guard([&] {
        if (!q) return inval("cq_enqueue_wait: queue is NULL");
        if (!data && len) return inval("cq_enqueue_wait: data is NULL but len is not 0");
        return to_int(impl(q)->enqueue_wait(data, len, timeout_ns));
    });
}

CQ_API int cq_dequeue_wait(cq_queue *q, void *buf, size_t cap, size_t *len, int64_t timeout_ns) {
    return guard([&] {
        if (!q) return inval("cq_dequeue_wait: queue is NULL");
        if (!len) return inval("cq_dequeue_wait: len is NULL");
        if (!buf && cap) return inval("cq_dequeue_wait: buf is NULL but cap is not 0");
        return to_int(impl(q)->dequeue_wait(buf, cap, len, timeout_ns));
    });
}

CQ_API int cq_enqueue_batch(cq_queue *q, const cq_iov *msgs, size_t count) {
    return guard([&] {
        if (!q) return inval("cq_enqueue_batch: queue is NULL");
        if (!msgs) return inval("cq_enqueue_batch: msgs is NULL");
        if (count == 0 || count > INT32_MAX)
            return inval("cq_enqueue_batch: count must be 1 .. INT32_MAX");
        for (size_t i = 0; i < count; ++i)
            if (!msgs[i].data && msgs[i].len)
                return to_int(cq::fail(Errc::inval, "cq_enqueue_batch: msgs[%zu].data is NULL", i));
        return impl(q)->enqueue_batch(reinterpret_cast<const cq::ConstBuf *>(msgs),
                                      static_cast<uint32_t>(count));
    });
}

CQ_API int cq_dequeue_batch(cq_queue *q, cq_rbuf *bufs, size_t count) {
    return guard([&] {
        if (!q) return inval("cq_dequeue_batch: queue is NULL");
        if (!bufs) return inval("cq_dequeue_batch: bufs is NULL");
        if (count == 0 || count > INT32_MAX)
            return inval("cq_dequeue_batch: count must be 1 .. INT32_MAX");
        for (size_t i = 0; i < count; ++i)
            if (!bufs[i].data && bufs[i].cap)
                return to_int(cq::fail(Errc::inval, "cq_dequeue_batch: bufs[%zu].data is NULL", i));
        return impl(q)->dequeue_batch(reinterpret_cast<cq::MutBuf *>(bufs),
                                      static_cast<uint32_t>(count));
    });
}

CQ_API int cq_stats(cq_queue *q, cq_queue_stats *out) {
    return guard([&] {
        if (!q) return inval("cq_stats: queue is NULL");
        if (!out) return inval("cq_stats: out is NULL");
        uint32_t size = out->struct_size;
        if (size < kStatsV1)
            return to_int(cq::fail(Errc::inval,
                                   "cq_stats: struct_size %u is smaller than %u; set it to "
                                   "sizeof(cq_queue_stats)",
                                   size, kStatsV1));
        cq::QueueStats s;
        if (Errc e = impl(q)->stats(&s); e != Errc::ok) return to_int(e);
        cq_queue_stats full{};
        full.struct_size = size;
        full.capacity = s.capacity;
        full.max_message_size = s.max_message_size;
        full.length = s.length;
        full.free_nodes = s.free_nodes;
        full.enqueued = s.enqueued;
        full.dequeued = s.dequeued;
        full.reclaimed = s.reclaimed;
        full.recoveries = s.recoveries;
        full.lanes_live = s.lanes_live;
        full.lanes_dead = s.lanes_dead;
        std::memcpy(out, &full, size < sizeof full ? size : sizeof full);
        return CQ_OK;
    });
}

CQ_API int cq_interrupt(cq_queue *q) {
    return guard([&] {
        if (!q) return inval("cq_interrupt: queue is NULL");
        impl(q)->interrupt();
        return CQ_OK;
    });
}

CQ_API int cq_recover(cq_queue *q, uint64_t *reclaimed) {
    return guard([&] {
        if (!q) return inval("cq_recover: queue is NULL");
        return to_int(impl(q)->recover(reclaimed));
    });
}

}  // extern "C"
