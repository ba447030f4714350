/*
 * libcqueue — the broker (broker_*): durable publish/subscribe between
 * processes over memory-mapped, CRC-checked, segmented logs.
 *
 * A broker is a directory. Each topic is a log of records in segment files
 * under DIR/topics/TOPIC/, shared by every process that opens DIR: a publisher
 * reserves space with one atomic add on the segment's tail, writes its record
 * and commits it; subscribers are cursors over the same log, so fan-out costs
 * the publisher nothing per subscriber. Offsets are per topic, from 0, and
 * increase by one per record (a publisher killed between reserving and
 * committing leaves a gap that readers skip and count, docs/broker-log.md).
 *
 * Durable subscriptions (CQ_SUB_DURABLE with a subscriber id) persist their
 * acknowledged offset per topic in DIR/subs/ID/ and resume after it after a
 * restart or a crash of any process: at-least-once delivery of what was not
 * acknowledged. Ephemeral subscriptions (id NULL) start at the next record
 * published, or at the oldest retained one with CQ_SUB_EARLIEST.
 *
 * Topic names are 1..255 bytes of tokens [A-Za-z0-9_-]+ joined by '.'.
 * Patterns may use '*' for exactly one token and a final '>' for one or more
 * tokens ("orders.*.eu", "orders.>"). Subscriber ids are 1..128 bytes of
 * [A-Za-z0-9_-].
 *
 * Formats on disk and the guarantees after crashes: docs/broker-log.md.
 *
 * Thread safety: a cq_broker may be used by any number of threads at once
 * (publishes from threads of one handle to one topic are serialised, from
 * different handles and processes they are not). A cq_subscription is used
 * by one thread at a time (broker_interrupt excepted). broker_close must be
 * the last call on a broker, after every subscription of it was unsubscribed.
 */
#ifndef CQUEUE_BROKER_H
#define CQUEUE_BROKER_H

#include "common.h"
#include "pool.h"  /* cq_pool (push delivery) */
#include "queue.h" /* cq_iov */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cq_broker cq_broker;
typedef struct cq_subscription cq_subscription;

/** One delivered record. */
typedef struct cq_message {
    uint64_t offset;      /* dense, per topic, from 0 */
    int64_t timestamp_ns; /* CLOCK_REALTIME at publish */
    const char *topic;    /* valid while the subscription is (it names one of its topics) */
    const void *data;     /* valid until the next poll on this subscription */
    size_t len;
} cq_message;

enum {
    CQ_SUB_DURABLE = 1u << 0, /* resume after the last acknowledged offset */
    CQ_SUB_EARLIEST = 1u << 1 /* a new subscription starts at the oldest retained
                                 record instead of the next one published */
};

/** When a publish is on disk (fsync_policy). */
enum {
    CQ_FSYNC_NONE = 0,     /**< page cache only: survives process crashes, not power loss */
    CQ_FSYNC_INTERVAL = 1, /**< a background thread fdatasyncs every fsync_interval_ms */
    CQ_FSYNC_GROUP = 2,    /**< publish returns once its record is synced; concurrent
                                publishers (of every process) share one fdatasync */
    CQ_FSYNC_ALWAYS = 3    /**< one fdatasync per publish call */
};

/** What a publish does when retention would delete records a durable
 *  subscriber has not acknowledged (overflow_policy). */
enum {
    CQ_OVERFLOW_BLOCK = 0, /**< wait up to block_timeout_ns for acks, then CQ_ETIMEDOUT */
    CQ_OVERFLOW_FAIL = 1,  /**< fail the publish with CQ_EFULL */
    CQ_OVERFLOW_DROP = 2   /**< delete anyway; the subscriber counts the records as missed */
};

/** Largest record body (bounded by the segment size as well). */
#define CQ_BROKER_MAX_MESSAGE_SIZE (16u * 1024u * 1024u)
#define CQ_BROKER_MIN_SEGMENT_SIZE (64u * 1024u)
#define CQ_BROKER_MAX_SEGMENT_SIZE (256u * 1024u * 1024u)
#define CQ_BROKER_DEFAULT_SEGMENT_SIZE (64u * 1024u * 1024u)

/** Options for broker_open. Initialise with cq_broker_options_init or CQ_BROKER_OPTIONS_INIT.
 *  segment_size applies to segments this handle creates; the policies to what
 *  this handle does (another process may open DIR with others). */
typedef struct cq_broker_options {
    uint32_t struct_size;       /**< sizeof(cq_broker_options); set by _init */
    uint32_t fsync_policy;      /**< CQ_FSYNC_*; default NONE */
    uint32_t fsync_interval_ms; /**< INTERVAL: period, 1 .. 60000; default 100 */
    uint32_t overflow_policy;   /**< CQ_OVERFLOW_*; default BLOCK */
    uint64_t segment_size;      /**< bytes, CQ_BROKER_MIN .. MAX_SEGMENT_SIZE, multiple of 4096 */
    uint64_t retention_bytes;   /**< per topic, whole segments deleted past it; 0 = no limit */
    int64_t
        retention_age_ns; /**< segments whose newest record is older are deleted; 0 = no limit */
    int64_t block_timeout_ns; /**< CQ_OVERFLOW_BLOCK: longest wait of a publish; default 5 s */
    int64_t hole_timeout_ns;  /**< a reader waits this long on an uncommitted record of a
                                   dead publisher before skipping it; default 1 s */
    uint32_t mode;            /**< permission bits of created files; default 0600 */
    uint32_t reserved;        /**< 0 */
} cq_broker_options;

#define CQ_BROKER_OPTIONS_INIT                                                           \
    {                                                                                    \
        (uint32_t)sizeof(cq_broker_options), CQ_FSYNC_NONE, 100u, CQ_OVERFLOW_BLOCK,     \
            CQ_BROKER_DEFAULT_SEGMENT_SIZE, 0u, 0, 5000000000LL, 1000000000LL, 0600u, 0u \
    }

/** Where a new subscription starts (cq_subscribe_options.start). */
enum {
    CQ_START_DEFAULT = 0,  /**< durable: after the last ack, else as flags say */
    CQ_START_EARLIEST = 1, /**< the oldest retained record of each topic */
    CQ_START_LATEST = 2,   /**< the next record published */
    CQ_START_OFFSET = 3,   /**< start_value is an offset (in each matching topic) */
    CQ_START_TIME = 4      /**< start_value is a CLOCK_REALTIME ns: the first record at or after */
};

/** Options for broker_subscribe_ex. Initialise with CQ_SUBSCRIBE_OPTIONS_INIT. */
typedef struct cq_subscribe_options {
    uint32_t struct_size;
    uint32_t flags;            /**< CQ_SUB_* */
    const char *pattern;       /**< topic or pattern */
    const char *subscriber_id; /**< NULL = ephemeral */
    uint32_t start;            /**< CQ_START_*; for a durable id with stored acks, only
                                    topics without an ack use it */
    uint32_t reserved;
    int64_t start_value; /**< CQ_START_OFFSET / CQ_START_TIME */
} cq_subscribe_options;

#define CQ_SUBSCRIBE_OPTIONS_INIT \
    { (uint32_t)sizeof(cq_subscribe_options), 0u, NULL, NULL, CQ_START_DEFAULT, 0u, 0 }

/** Counters of a broker handle (this process) and of the directory. */
typedef struct cq_broker_stats {
    uint32_t struct_size;
    uint32_t topics;           /**< topics in DIR */
    uint64_t published;        /**< records published through this handle */
    uint64_t published_bytes;  /**< their body bytes */
    uint64_t delivered;        /**< records delivered to this handle's subscriptions */
    uint64_t fsyncs;           /**< fdatasync calls made by this handle */
    uint64_t holes_skipped;    /**< dead publishers' records turned to padding (all processes) */
    uint64_t segments_deleted; /**< by retention, through this handle */
    uint64_t publish_failures; /**< publishes that returned an error */
    uint32_t sync_failed;      /**< 1 once an fdatasync failed: publishes return CQ_EIO */
    uint32_t reserved;
} cq_broker_stats;

#define CQ_BROKER_STATS_INIT \
    { (uint32_t)sizeof(cq_broker_stats), 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u }

/** Counters of one subscription for one topic (broker_subscription_stats). */
typedef struct cq_subscription_stats {
    uint32_t struct_size;
    uint32_t durable;        /**< 1 if the subscription is durable */
    uint64_t delivered;      /**< records of this topic delivered */
    uint64_t missed;         /**< records deleted by retention before delivery, or skipped
                                  as a dead publisher's gap */
    uint64_t next_offset;    /**< offset of the next record to deliver */
    uint64_t acked_offset;   /**< next offset after the last ack (0: none) */
    uint64_t end_offset;     /**< next offset to be appended to the topic */
    uint64_t durable_offset; /**< records below it are as durable as this handle's fsync
                                  policy promises: fdatasynced (GROUP, ALWAYS, INTERVAL),
                                  or, with NONE, end_offset (the page cache) */
    uint64_t lag_records;    /**< end_offset - next_offset */
    uint64_t lag_bytes;      /**< bytes of the log from the cursor to the end */
} cq_subscription_stats;

#define CQ_SUBSCRIPTION_STATS_INIT \
    { (uint32_t)sizeof(cq_subscription_stats), 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u }

/** Fill *opts with the defaults (see CQ_BROKER_OPTIONS_INIT). NULL is ignored. */
CQ_API void cq_broker_options_init(cq_broker_options *opts);

/** What broker_name_valid checks. */
enum {
    CQ_NAME_TOPIC = 0,     /**< a topic name */
    CQ_NAME_PATTERN = 1,   /**< a topic or a pattern with '*' and a final '>' */
    CQ_NAME_SUBSCRIBER = 2 /**< a subscriber id */
};

/** 1 if name is valid as `kind` (CQ_NAME_*) by the rules at the top of this
 *  file, else 0 (also for NULL or an unknown kind): for tools and bindings
 *  that check names before using them. */
CQ_API int broker_name_valid(const char *name, uint32_t kind);

/**
 * Open (and create if missing) the broker directory dir. Topics are created on
 * first publish or subscribe. Several processes may open the same dir at once
 * (up to 256 handles). The first handle to open dir while no other is open
 * checks the tail of every topic: a torn tail (a write that did not reach the
 * disk whole) is cut off. opts may be NULL: defaults.
 * Returns CQ_OK, CQ_EINVAL, CQ_EPERM, CQ_EBUSY (256 handles open),
 * CQ_ECORRUPT / CQ_EVERSION (a control file failed validation), CQ_EIO.
 */
CQ_API int broker_open(const char *dir, const cq_broker_options *opts, cq_broker **out);

/** Flush per the fsync policy, stop the background thread, free the handle.
 *  Returns CQ_OK (also for NULL), CQ_EIO if the final fdatasync failed (the
 *  handle is freed anyway), or CQ_EBUSY if a subscription of b is still open
 *  (nothing is closed: unsubscribe it, then close again). */
CQ_API int broker_close(cq_broker *b);

/**
 * Append one record of len bytes (0 allowed) to topic and return when it is
 * visible to readers (and synced, with CQ_FSYNC_GROUP / ALWAYS). offset_out
 * (may be NULL) receives its offset. Returns CQ_OK, CQ_EINVAL (bad topic),
 * CQ_EMSGSIZE, CQ_EFULL / CQ_ETIMEDOUT (overflow policy), CQ_EIO (I/O failed,
 * or an earlier fdatasync failed: the broker acknowledges nothing more).
 */
CQ_API int broker_publish(cq_broker *b, const char *topic, const void *data, size_t len,
                          uint64_t *offset_out);

/**
 * Append count records to topic with one reservation per segment they fill
 * (their offsets are consecutive). first_offset_out may be NULL. Returns the
 * number appended (count, or fewer if an error stopped it after some) or a
 * negative code as broker_publish.
 */
CQ_API int broker_publish_batch(cq_broker *b, const char *topic, const cq_iov *msgs, size_t count,
                                uint64_t *first_offset_out);

/** As broker_subscribe_ex with pattern, subscriber_id and flags. */
CQ_API int broker_subscribe(cq_broker *b, const char *pattern, const char *subscriber_id,
                            uint32_t flags, cq_subscription **out);

/**
 * Subscribe to every topic matching opts->pattern, now and created later.
 * A durable subscription (CQ_SUB_DURABLE, id required) resumes after its
 * acknowledged offsets; two live subscriptions with one id share nothing but
 * the ack files (each gets every record). Returns CQ_OK, CQ_EINVAL, CQ_ECORRUPT
 * (an ack file failed validation: named in cq_last_error), CQ_EIO.
 */
CQ_API int broker_subscribe_ex(cq_broker *b, const cq_subscribe_options *opts,
                               cq_subscription **out);

/**
 * Deliver the next record of any matching topic, waiting up to timeout_ns
 * (0: don't wait, CQ_WAIT_FOREVER). msg->data stays valid until the next poll
 * or unsubscribe. Records of one topic arrive in offset order. Returns CQ_OK,
 * CQ_ETIMEDOUT, CQ_ECORRUPT (a committed record failed its CRC: topic and
 * position in cq_last_error; that topic is skipped from then on), CQ_EIO.
 */
CQ_API int broker_poll(cq_subscription *s, cq_message *msg, int64_t timeout_ns);

/**
 * Up to max records into msgs (data valid until the next poll). Waits up to
 * timeout_ns for the first. Returns the count (> 0) or a code as broker_poll.
 */
CQ_API int broker_poll_batch(cq_subscription *s, cq_message *msgs, size_t max, int64_t timeout_ns);

/**
 * Acknowledge every record of topic up to and including offset. Durable
 * subscriptions persist it atomically (write, rename), never past the durable
 * end of the log; the part past it is persisted once synced. Returns CQ_OK,
 * CQ_EINVAL (offset not yet delivered, topic not subscribed), CQ_EIO.
 */
CQ_API int broker_ack(cq_subscription *s, const char *topic, uint64_t offset);

/** Move the cursor of topic (NULL: every topic) to offset (clamped to the
 *  retained range). Returns CQ_OK, CQ_EINVAL, CQ_ENOENT (no such topic here). */
CQ_API int broker_seek(cq_subscription *s, const char *topic, uint64_t offset);

/** Move every cursor to the first record with timestamp >= timestamp_ns. */
CQ_API int broker_seek_time(cq_subscription *s, int64_t timestamp_ns);

/**
 * End a broker_poll / broker_poll_batch on s in progress when it is called:
 * it returns CQ_ECANCELED promptly (or the records it found at that moment).
 * Later polls are not affected. The one call that may be made on s while
 * another thread uses it (e.g. to end a long poll before unsubscribing).
 * Other pollers of the directory, in any process, wake and wait again.
 * Returns CQ_OK, CQ_EINVAL (NULL), CQ_EPERM (a push subscription:
 * broker_unsubscribe ends its polling by itself).
 */
CQ_API int broker_interrupt(cq_subscription *s);

/** Persist pending acks, free the subscription. NULL is fine (CQ_OK). */
CQ_API int broker_unsubscribe(cq_subscription *s);

/**
 * Handler of a push subscription: called on a worker of the pool for each
 * record, in order (one batch of up to 64 records in flight at a time).
 * msg->data is valid during the call. Return 0 to acknowledge the record
 * (durable subscriptions persist acks once per batch); non-zero leaves it
 * and every later record of its topic unacknowledged for the rest of this
 * subscription's life (redelivered to the next one). A C++ exception
 * escaping it fails that record (the pool counts a failed job); the records
 * after it in the same job did not run and are delivered again.
 * pool_job_fail only counts the job as failed in the pool's stats.
 */
typedef int (*cq_push_fn)(void *ctx, const cq_message *msg);

/**
 * As broker_subscribe_ex, but records are pushed: a dispatcher thread of the
 * library polls the subscription and runs handler(ctx, msg) on pool's
 * workers. broker_poll, broker_poll_batch, broker_ack, broker_seek* and
 * broker_subscription_stats on it return CQ_EPERM (a durable push
 * subscriber's lag is in broker_metrics);
 * broker_unsubscribe stops it (after the batch in flight; never call it from
 * the handler). If the pool shuts down, delivery stops (nothing more acked).
 * Returns as broker_subscribe_ex.
 */
CQ_API int broker_subscribe_push(cq_broker *b, const cq_subscribe_options *opts, cq_pool *pool,
                                 cq_push_fn handler, void *ctx, cq_subscription **out);

/**
 * Handler of a batch push subscription: called on a worker of the pool with
 * the next count (1..64) records of the subscription, in order; msgs and
 * the data they point to are valid during the call. Returns how many leading
 * records it handled: they are acknowledged (durable subscriptions persist
 * acks once per batch). A return k below count makes msgs[k] failed, as a
 * non-zero return of cq_push_fn does (its topic is not acknowledged any
 * further in this subscription's life; its later records keep coming and
 * are redelivered to the next subscription), and delivers msgs[k+1..] again
 * in the next call. Returns above count count as count. A C++ exception
 * escaping it fails every record of the call.
 *
 * One call per batch is for languages whose every call from a library
 * thread is expensive (Python, Java, Go): the crossing is paid per batch,
 * not per record.
 */
typedef size_t (*cq_push_batch_fn)(void *ctx, const cq_message *msgs, size_t count);

/**
 * As broker_subscribe_push, with a handler that takes up to 64 records per
 * call. Returns as broker_subscribe_push.
 */
CQ_API int broker_subscribe_push_batch(cq_broker *b, const cq_subscribe_options *opts,
                                       cq_pool *pool, cq_push_batch_fn handler, void *ctx,
                                       cq_subscription **out);

/** Counters; out->struct_size must be set. */
CQ_API int broker_stats(cq_broker *b, cq_broker_stats *out);

/** Counters of s for topic; out->struct_size must be set. CQ_ENOENT if s has no such topic. */
CQ_API int broker_subscription_stats(cq_subscription *s, const char *topic,
                                     cq_subscription_stats *out);

/**
 * Every metric of the broker directory (per topic: end offset, bytes,
 * segments; per durable subscriber and topic: acked offset and lag; this
 * handle's counters) in the Prometheus text exposition format, NUL-terminated,
 * into buf. *needed (may be NULL) receives the size including the NUL,
 * whether or not it fit. Returns CQ_OK, or CQ_EMSGSIZE when cap is too small
 * (call again with *needed).
 */
CQ_API int broker_metrics(cq_broker *b, char *buf, size_t cap, size_t *needed);

/** Names of the topics in DIR, one per line, NUL-terminated; as broker_metrics. */
CQ_API int broker_topics(cq_broker *b, char *buf, size_t cap, size_t *needed);

#ifdef __cplusplus
}
#endif

#endif /* CQUEUE_BROKER_H */
