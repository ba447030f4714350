/*
 * libcqueue — the shared-memory queue (cq_*).
 *
 * A lock-free multi-producer multi-consumer FIFO (Michael & Scott) in a named
 * shared-memory region. Any number of processes and threads may open the
 * same name and enqueue and dequeue at once. A process killed or stopped at
 * any instruction never prevents another from completing an operation; the
 * nodes it held are returned to the free list by recovery.
 *
 * Thread safety: a cq_queue handle may be used by any number of threads of
 * the process that opened it at once. A handle must not be used in a child
 * created by fork(): open the queue again there (CQ_EPERM otherwise). The
 * child may cq_close it (freeing its copy) or just exit: neither touches the
 * lanes the parent holds.
 *
 * Every operation on a handle (enqueue, dequeue, their batch and wait forms,
 * cq_recover) also returns CQ_EBUSY when the calling thread needs a lane (its
 * first operation on the handle) and every lane of the region (512) is held
 * by a live thread; CQ_ECORRUPT once the region is found damaged.
 */
#ifndef CQUEUE_QUEUE_H
#define CQUEUE_QUEUE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cq_queue cq_queue;

enum {
    CQ_CREATE = 1u << 0,    /**< create the region if it does not exist */
    CQ_EXCL = 1u << 1,      /**< with CQ_CREATE: fail with CQ_EEXIST if it exists */
    CQ_NO_RECOVER = 1u << 2 /**< this handle never recovers by itself (only cq_recover):
                                 for tests and tools that want to see what the dead left */
};

/** Options for cq_open. Initialise with cq_queue_options_init or CQ_QUEUE_OPTIONS_INIT. */
typedef struct cq_queue_options {
    uint32_t struct_size;      /**< sizeof(cq_queue_options); set by _init */
    uint32_t flags;            /**< CQ_CREATE, CQ_EXCL */
    uint32_t capacity;         /**< messages, 1 .. 2^32-2; used when creating */
    uint32_t max_message_size; /**< bytes, 1 .. CQ_MAX_MESSAGE_SIZE; used when creating */
    uint32_t mode;             /**< permission bits when creating; default 0600 */
} cq_queue_options;

#define CQ_DEFAULT_CAPACITY 65536u
#define CQ_DEFAULT_MAX_MESSAGE_SIZE 256u
/** Largest max_message_size a queue may be created with (16 MiB). */
#define CQ_MAX_MESSAGE_SIZE (16u * 1024u * 1024u)
/** Largest capacity: 2^32-2 (one index is the null link, one node is the dummy). */
#define CQ_MAX_CAPACITY 0xFFFFFFFEu

#define CQ_QUEUE_OPTIONS_INIT                                                                     \
    {                                                                                             \
        (uint32_t)sizeof(cq_queue_options), 0u, CQ_DEFAULT_CAPACITY, CQ_DEFAULT_MAX_MESSAGE_SIZE, \
            0600u                                                                                 \
    }

/** Counters of a queue. Set struct_size before calling cq_stats. */
typedef struct cq_queue_stats {
    uint32_t struct_size;
    uint32_t capacity;
    uint32_t max_message_size;
    uint64_t length;     /**< messages queued now (exact when no operation is in flight) */
    uint64_t free_nodes; /**< nodes a producer can take now: on the free lists, or finished
                              by consumers and waiting to be proven past the tail (exact when
                              quiescent) */
    uint64_t enqueued;   /**< totals since creation */
    uint64_t dequeued;
    uint64_t reclaimed; /**< nodes returned by recovery since creation */
    /* Fields added in 1.0 beyond the fixed contract; filled when struct_size covers them. */
    uint64_t recoveries; /**< successful recovery passes since creation */
    uint32_t lanes_live; /**< lanes (process x thread slots) held by live processes */
    uint32_t lanes_dead; /**< lanes of dead processes not yet recovered */
} cq_queue_stats;

#define CQ_QUEUE_STATS_INIT \
    { (uint32_t)sizeof(cq_queue_stats), 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u }

/** One message to enqueue in a batch. */
typedef struct cq_iov {
    const void *data;
    size_t len;
} cq_iov;

/** One buffer to dequeue into in a batch: cap is its size, len receives the message length. */
typedef struct cq_rbuf {
    void *data;
    size_t cap;
    size_t len;
} cq_rbuf;

/** Fill *opts with the defaults: no flags, 65536 x 256 bytes, mode 0600. NULL is ignored. */
CQ_API void cq_queue_options_init(cq_queue_options *opts);

/**
 * Open (and with CQ_CREATE, create) the queue `name`.
 *
 * name: [A-Za-z0-9._-]{1,200} names a POSIX shared-memory object; a name
 * containing '/' is a file path (file-backed mapping). opts may be NULL:
 * attach, or create with defaults if missing. Creation is race-free: one
 * process creates, others wait (bounded) until it is ready. A region whose
 * creator died during initialisation is re-initialised when CQ_CREATE is
 * given, refused with CQ_ECORRUPT otherwise.
 *
 * Returns CQ_OK and *out, or: CQ_EINVAL (bad name, options or NULL out),
 * CQ_ENOENT (missing and no CQ_CREATE), CQ_EEXIST (CQ_CREATE|CQ_EXCL and it
 * exists), CQ_EPERM (no access), CQ_EFOREIGN (the name holds something that
 * is not a libcqueue queue), CQ_EVERSION (made by an incompatible layout),
 * CQ_ECORRUPT (header fails validation), CQ_ETIMEDOUT (creator did not finish
 * in time), CQ_ENOMEM, CQ_EIO. Thread-safe.
 */
CQ_API int cq_open(const char *name, const cq_queue_options *opts, cq_queue **out);

/**
 * Detach and free the handle; the queue itself stays. NULL is fine (CQ_OK).
 * In a child created by fork() it frees the child's copy only.
 * Must be the last call on q: no call on q may be in progress in another
 * thread or follow it: end waits in progress with cq_interrupt and let them
 * return before closing.
 */
CQ_API int cq_close(cq_queue *q);

/**
 * Remove the name; processes that have it open keep using the region until
 * they close it. Returns CQ_OK, CQ_EINVAL, CQ_ENOENT, CQ_EPERM or CQ_EIO.
 */
CQ_API int cq_unlink(const char *name);

/**
 * Append one message of len bytes (0 .. max_message_size). Never blocks.
 * Returns CQ_OK, CQ_EFULL, CQ_EMSGSIZE, CQ_EINVAL, CQ_ECORRUPT, CQ_EPERM.
 */
CQ_API int cq_enqueue(cq_queue *q, const void *data, size_t len);

/**
 * Remove the oldest message into buf (cap bytes) and set *len. Never blocks.
 * Returns CQ_OK, CQ_EEMPTY, CQ_EMSGSIZE (the message is larger than cap; it
 * stays queued and *len receives its size), CQ_EINVAL, CQ_ECORRUPT, CQ_EPERM.
 */
CQ_API int cq_dequeue(cq_queue *q, void *buf, size_t cap, size_t *len);

/**
 * cq_enqueue, waiting up to timeout_ns while the queue is full (spin, then
 * sleep on a futex in the region). CQ_ETIMEDOUT when the time runs out.
 */
CQ_API int cq_enqueue_wait(cq_queue *q, const void *data, size_t len, int64_t timeout_ns);

/** cq_dequeue, waiting up to timeout_ns while the queue is empty. CQ_ETIMEDOUT. */
CQ_API int cq_dequeue_wait(cq_queue *q, void *buf, size_t cap, size_t *len, int64_t timeout_ns);

/**
 * End every cq_enqueue_wait and cq_dequeue_wait on q that is in progress in
 * this process when it is called: each returns CQ_ECANCELED promptly (one
 * that could complete at that moment may complete instead). Waits that start
 * afterwards are not affected. Waiters of other processes on the same queue
 * wake, find nothing changed and wait again. For ending a wait early: a
 * context cancelled, a thread to be stopped, a handle about to be closed
 * (once the waits returned). Returns CQ_OK or CQ_EINVAL. Thread-safe; q may
 * be in use by other threads.
 */
CQ_API int cq_interrupt(cq_queue *q);

/**
 * Enqueue up to count messages, in order, linking them with one tail CAS.
 * Enqueues the longest prefix for which free nodes exist. Returns the number
 * enqueued (> 0), or CQ_EFULL (none), CQ_EMSGSIZE (some message too large;
 * nothing enqueued), CQ_EINVAL (count 0 or > INT32_MAX, NULL pointers).
 */
CQ_API int cq_enqueue_batch(cq_queue *q, const cq_iov *msgs, size_t count);

/**
 * Dequeue up to count messages with one head CAS, message i into bufs[i]
 * (bufs[i].len is set). Stops before a message that does not fit its
 * buffer. Returns the number dequeued (> 0), or CQ_EEMPTY, or CQ_EMSGSIZE when
 * the first message does not fit bufs[0] (it stays queued, bufs[0].len gets
 * its size), CQ_EINVAL.
 */
CQ_API int cq_dequeue_batch(cq_queue *q, cq_rbuf *bufs, size_t count);

/** Counters; out->struct_size must be set by the caller. CQ_EINVAL otherwise. */
CQ_API int cq_stats(cq_queue *q, cq_queue_stats *out);

/**
 * Return nodes held by dead processes to the free list (stop-the-world:
 * waits, bounded, for live processes to leave their operations). Also run
 * automatically when a process notices a dead peer. *reclaimed (may be NULL)
 * receives the number of nodes returned. CQ_EBUSY if a live process stayed
 * inside an operation (for example it is stopped) past the bound.
 */
CQ_API int cq_recover(cq_queue *q, uint64_t *reclaimed);

#ifdef __cplusplus
}
#endif

#endif /* CQUEUE_QUEUE_H */
