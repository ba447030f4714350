// extern "C" shims for the broker: check arguments, cast handles, call the
// core, map results. No algorithm lives here.
#include "cqueue/broker.h"

#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capi/src/shim.hpp"
#include "core/broker/broker.hpp"
#include "core/broker/names.hpp"
#include "core/broker/push.hpp"

using cq::Errc;
using cq::to_int;
using cq::capi::guard;
using cq::capi::inval;
namespace bk = cq::broker;

struct cq_broker {
    std::unique_ptr<bk::Broker> impl;
    std::atomic<uint32_t> subscriptions{0};  // open ones: broker_close refuses while > 0
};
struct cq_subscription {
    cq_broker *owner;
    std::unique_ptr<bk::Subscription> impl;  // null for a push subscription
    std::unique_ptr<bk::PushDelivery> push;
    // The user's push handler (one of the two) and its context.
    cq_push_fn push_one = nullptr;
    cq_push_batch_fn push_batch = nullptr;
    void *push_ctx = nullptr;
};

static_assert(sizeof(cq_message) == sizeof(bk::Delivered) &&
              offsetof(cq_message, offset) == offsetof(bk::Delivered, offset) &&
              offsetof(cq_message, timestamp_ns) == offsetof(bk::Delivered, timestamp_ns) &&
              offsetof(cq_message, topic) == offsetof(bk::Delivered, topic) &&
              offsetof(cq_message, data) == offsetof(bk::Delivered, data) &&
              offsetof(cq_message, len) == offsetof(bk::Delivered, len));

namespace {

constexpr uint32_t kOptionsV1 = offsetof(cq_broker_options, reserved) + sizeof(uint32_t);
constexpr uint32_t kSubOptionsV1 = offsetof(cq_subscribe_options, start_value) + sizeof(int64_t);
constexpr uint32_t kStatsV1 = offsetof(cq_broker_stats, reserved) + sizeof(uint32_t);
constexpr uint32_t kSubStatsV1 = offsetof(cq_subscription_stats, lag_bytes) + sizeof(uint64_t);

int to_options(const cq_broker_options *o, bk::Options *out) {
    cq_broker_options d = CQ_BROKER_OPTIONS_INIT;
    if (o) {
        if (o->struct_size < kOptionsV1)
            return inval(
                "broker_open: opts->struct_size is too small (use cq_broker_options_init)");
        d = *o;
    }
    if (d.fsync_policy > CQ_FSYNC_ALWAYS) return inval("broker_open: unknown fsync_policy");
    if (d.fsync_policy == CQ_FSYNC_INTERVAL &&
        (d.fsync_interval_ms < 1 || d.fsync_interval_ms > 60000))
        return inval("broker_open: fsync_interval_ms must be 1 .. 60000");
    if (d.overflow_policy > CQ_OVERFLOW_DROP) return inval("broker_open: unknown overflow_policy");
    if (d.segment_size < bk::kMinSegmentSize || d.segment_size > bk::kMaxSegmentSize ||
        d.segment_size % 4096 != 0)
        return to_int(cq::fail(
            Errc::inval, "broker_open: segment_size must be a multiple of 4096 in %llu .. %llu",
            static_cast<unsigned long long>(bk::kMinSegmentSize),
            static_cast<unsigned long long>(bk::kMaxSegmentSize)));
    if (d.retention_age_ns < 0 || d.block_timeout_ns < 0 || d.hole_timeout_ns <= 0)
        return inval(
            "broker_open: retention_age_ns and block_timeout_ns must be >= 0, hole_timeout_ns > 0");
    if (d.mode & ~0777u) return inval("broker_open: mode has bits outside 0777");
    if (d.reserved != 0) return inval("broker_open: reserved must be 0");
    out->fsync = static_cast<bk::FsyncPolicy>(d.fsync_policy);
    out->fsync_interval_ms = d.fsync_interval_ms;
    out->overflow = static_cast<bk::Overflow>(d.overflow_policy);
    out->segment_size = d.segment_size;
    out->retention_bytes = d.retention_bytes;
    out->retention_age_ns = d.retention_age_ns;
    out->block_timeout_ns = d.block_timeout_ns;
    out->hole_timeout_ns = d.hole_timeout_ns;
    out->mode = d.mode ? d.mode : 0600;
    return CQ_OK;
}

int check_topic(const char *topic, const char *fn) {
    if (!topic) return to_int(cq::fail(Errc::inval, "%s: topic is NULL", fn));
    if (!bk::valid_topic(topic))
        return to_int(
            cq::fail(Errc::inval,
                     "%s: '%.300s' is not a topic name (tokens [A-Za-z0-9_-]+ joined by '.', "
                     "at most 255 bytes)",
                     fn, topic));
    return CQ_OK;
}

int copy_text(const std::string &s, char *buf, size_t cap, size_t *needed, const char *fn) {
    if (needed) *needed = s.size() + 1;
    if (!buf && cap) return inval("buf is NULL with cap > 0");
    if (cap < s.size() + 1)
        return to_int(
            cq::fail(Errc::msgsize, "%s: %zu bytes needed, cap is %zu", fn, s.size() + 1, cap));
    std::memcpy(buf, s.c_str(), s.size() + 1);
    return CQ_OK;
}

void to_c(const bk::Delivered &d, cq_message *m) {
    m->offset = d.offset;
    m->timestamp_ns = d.timestamp_ns;
    m->topic = d.topic;
    m->data = d.data;
    m->len = d.len;
}

}  // namespace

namespace {
// Validates opts and creates the subscription's core object.
int make_subscription(cq_broker *b, const cq_subscribe_options *opts, const char *fn,
                      std::unique_ptr<bk::Subscription> *out) {
    if (!b || !opts) return to_int(cq::fail(Errc::inval, "%s: b or opts is NULL", fn));
    if (opts->struct_size < kSubOptionsV1)
        return to_int(cq::fail(Errc::inval, "%s: opts->struct_size is too small", fn));
    if (!opts->pattern || !bk::valid_pattern(opts->pattern))
        return to_int(cq::fail(Errc::inval, "%s: '%.300s' is not a topic pattern", fn,
                               opts->pattern ? opts->pattern : "(null)"));
    if (opts->flags & ~uint32_t{CQ_SUB_DURABLE | CQ_SUB_EARLIEST})
        return to_int(cq::fail(Errc::inval, "%s: unknown flags", fn));
    const bool durable = opts->flags & CQ_SUB_DURABLE;
    if (opts->subscriber_id && !bk::valid_id(opts->subscriber_id))
        return to_int(
            cq::fail(Errc::inval, "%s: subscriber_id must be 1..128 bytes of [A-Za-z0-9_-]", fn));
    if (durable && !opts->subscriber_id)
        return to_int(cq::fail(Errc::inval, "%s: CQ_SUB_DURABLE needs a subscriber_id", fn));
    if (opts->start > CQ_START_TIME) return to_int(cq::fail(Errc::inval, "%s: unknown start", fn));
    if (opts->start == CQ_START_OFFSET && opts->start_value < 0)
        return to_int(
            cq::fail(Errc::inval, "%s: start_value must be >= 0 for CQ_START_OFFSET", fn));
    if (opts->reserved != 0) return to_int(cq::fail(Errc::inval, "%s: reserved must be 0", fn));
    bk::StartSpec st;
    st.kind = static_cast<bk::StartSpec::Kind>(opts->start);
    st.value = opts->start_value;
    return to_int(bk::Subscription::create(b->impl.get(), opts->pattern, opts->subscriber_id,
                                           durable, opts->flags & CQ_SUB_EARLIEST, st, out));
}

int pull_only(cq_subscription *s, const char *fn) {
    if (!s) return to_int(cq::fail(Errc::inval, "%s: s is NULL", fn));
    if (!s->impl)
        return to_int(cq::fail(Errc::perm, "%s: a push subscription delivers by itself", fn));
    return CQ_OK;
}
}  // namespace

extern "C" {

void cq_broker_options_init(cq_broker_options *opts) {
    if (opts) *opts = cq_broker_options CQ_BROKER_OPTIONS_INIT;
}

int broker_name_valid(const char *name, uint32_t kind) {
    if (!name) return 0;
    switch (kind) {
        case CQ_NAME_TOPIC:
            return bk::valid_topic(name);
        case CQ_NAME_PATTERN:
            return bk::valid_pattern(name);
        case CQ_NAME_SUBSCRIBER:
            return bk::valid_id(name);
        default:
            return 0;
    }
}

int broker_open(const char *dir, const cq_broker_options *opts, cq_broker **out) {
    return guard([&] {
        if (!out) return inval("broker_open: out is NULL");
        *out = nullptr;
        if (!dir || !*dir) return inval("broker_open: dir is NULL or empty");
        if (std::strlen(dir) > 3000) return inval("broker_open: dir is too long");
        bk::Options o;
        if (int r = to_options(opts, &o); r != CQ_OK) return r;
        auto b = std::make_unique<cq_broker>();
        if (Errc e = bk::Broker::open(dir, o, &b->impl); e != Errc::ok) return to_int(e);
        *out = b.release();
        return CQ_OK;
    });
}

int broker_close(cq_broker *b) {
    return guard([&] {
        if (!b) return CQ_OK;  // like cq_close: NULL is fine
        if (uint32_t n = b->subscriptions.load(std::memory_order_acquire); n != 0)
            return to_int(cq::fail(Errc::busy,
                                   "broker_close: %u subscription(s) of this broker are still "
                                   "open; unsubscribe them first (nothing was closed)",
                                   n));
        Errc e = b->impl->close();
        delete b;
        return to_int(e);
    });
}

int broker_publish(cq_broker *b, const char *topic, const void *data, size_t len,
                   uint64_t *offset_out) {
    return guard([&] {
        if (!b) return inval("broker_publish: b is NULL");
        if (int r = check_topic(topic, "broker_publish"); r != CQ_OK) return r;
        if (!data && len) return inval("broker_publish: data is NULL with len > 0");
        if (len > CQ_BROKER_MAX_MESSAGE_SIZE)
            return to_int(cq::fail(Errc::msgsize, "broker_publish: %zu bytes is more than %u", len,
                                   CQ_BROKER_MAX_MESSAGE_SIZE));
        bk::Message m{data, len};
        size_t done;
        return to_int(b->impl->publish(topic, &m, 1, offset_out, &done));
    });
}

int broker_publish_batch(cq_broker *b, const char *topic, const cq_iov *msgs, size_t count,
                         uint64_t *first_offset_out) {
    return guard([&] {
        if (!b) return inval("broker_publish_batch: b is NULL");
        if (int r = check_topic(topic, "broker_publish_batch"); r != CQ_OK) return r;
        if (!msgs || count == 0) return inval("broker_publish_batch: msgs is NULL or count is 0");
        if (count > INT32_MAX) return inval("broker_publish_batch: count is more than INT32_MAX");
        static_assert(sizeof(cq_iov) == sizeof(bk::Message) &&
                      offsetof(cq_iov, len) == offsetof(bk::Message, len));
        for (size_t i = 0; i < count; ++i) {
            if (!msgs[i].data && msgs[i].len)
                return inval("broker_publish_batch: a message has data NULL, len > 0");
            if (msgs[i].len > CQ_BROKER_MAX_MESSAGE_SIZE)
                return to_int(cq::fail(Errc::msgsize,
                                       "broker_publish_batch: message %zu has %zu bytes (max %u)",
                                       i, msgs[i].len, CQ_BROKER_MAX_MESSAGE_SIZE));
        }
        size_t done = 0;
        Errc e = b->impl->publish(topic, reinterpret_cast<const bk::Message *>(msgs), count,
                                  first_offset_out, &done);
        if (done > 0) return static_cast<int>(done);
        return to_int(e);
    });
}

int broker_subscribe(cq_broker *b, const char *pattern, const char *subscriber_id, uint32_t flags,
                     cq_subscription **out) {
    cq_subscribe_options o = CQ_SUBSCRIBE_OPTIONS_INIT;
    o.pattern = pattern;
    o.subscriber_id = subscriber_id;
    o.flags = flags;
    return broker_subscribe_ex(b, &o, out);
}

int broker_subscribe_ex(cq_broker *b, const cq_subscribe_options *opts, cq_subscription **out) {
    return guard([&] {
        if (!out) return inval("broker_subscribe_ex: out is NULL");
        *out = nullptr;
        auto s = std::make_unique<cq_subscription>();
        s->owner = b;
        if (int r = make_subscription(b, opts, "broker_subscribe_ex", &s->impl); r != CQ_OK)
            return r;
        b->subscriptions.fetch_add(1, std::memory_order_relaxed);
        *out = s.release();
        return CQ_OK;
    });
}

namespace {
// The core hands records over as bk::Delivered; the user's handler takes
// cq_message (same fields, converted rather than cast).
int push_one_tramp(void *ctx, const bk::Delivered *d) {
    auto *s = static_cast<cq_subscription *>(ctx);
    cq_message m;
    to_c(*d, &m);
    return s->push_one(s->push_ctx, &m);
}

size_t push_batch_tramp(void *ctx, const bk::Delivered *d, size_t count) {
    auto *s = static_cast<cq_subscription *>(ctx);
    cq_message m[bk::kPushBatch];
    if (count > bk::kPushBatch) count = bk::kPushBatch;
    for (size_t i = 0; i < count; ++i) to_c(d[i], &m[i]);
    return s->push_batch(s->push_ctx, m, count);
}

int subscribe_push(cq_broker *b, const cq_subscribe_options *opts, cq_pool *pool, cq_push_fn one,
                   cq_push_batch_fn batch, void *ctx, cq_subscription **out, const char *fn) {
    if (!out) return to_int(cq::fail(Errc::inval, "%s: out is NULL", fn));
    *out = nullptr;
    if (!pool || (!one && !batch))
        return to_int(cq::fail(Errc::inval, "%s: pool or handler is NULL", fn));
    std::unique_ptr<bk::Subscription> sub;
    if (int r = make_subscription(b, opts, fn, &sub); r != CQ_OK) return r;
    auto s = std::make_unique<cq_subscription>();
    s->owner = b;
    s->push_one = one;
    s->push_batch = batch;
    s->push_ctx = ctx;
    if (Errc e = bk::PushDelivery::start(std::move(sub), reinterpret_cast<cq::Pool *>(pool),
                                         one ? push_one_tramp : nullptr,
                                         batch ? push_batch_tramp : nullptr, s.get(), &s->push);
        e != Errc::ok)
        return to_int(e);
    b->subscriptions.fetch_add(1, std::memory_order_relaxed);
    *out = s.release();
    return CQ_OK;
}
}  // namespace

int broker_subscribe_push(cq_broker *b, const cq_subscribe_options *opts, cq_pool *pool,
                          cq_push_fn handler, void *ctx, cq_subscription **out) {
    return guard([&] {
        return subscribe_push(b, opts, pool, handler, nullptr, ctx, out, "broker_subscribe_push");
    });
}

int broker_subscribe_push_batch(cq_broker *b, const cq_subscribe_options *opts, cq_pool *pool,
                                cq_push_batch_fn handler, void *ctx, cq_subscription **out) {
    return guard([&] {
        return subscribe_push(b, opts, pool, nullptr, handler, ctx, out,
                              "broker_subscribe_push_batch");
    });
}

int broker_poll(cq_subscription *s, cq_message *msg, int64_t timeout_ns) {
    return guard([&] {
        if (int r = pull_only(s, "broker_poll"); r != CQ_OK) return r;
        if (!msg) return inval("broker_poll: msg is NULL");
        bk::Delivered d;
        size_t got;
        if (Errc e = s->impl->poll(&d, 1, timeout_ns, &got); e != Errc::ok) return to_int(e);
        to_c(d, msg);
        return CQ_OK;
    });
}

int broker_poll_batch(cq_subscription *s, cq_message *msgs, size_t max, int64_t timeout_ns) {
    return guard([&] {
        if (int r = pull_only(s, "broker_poll_batch"); r != CQ_OK) return r;
        if (!msgs || max == 0) return inval("broker_poll_batch: msgs is NULL, or max is 0");
        const size_t n = max > 4096 ? 4096 : max;
        thread_local std::vector<bk::Delivered> d;
        d.resize(n);
        size_t got;
        if (Errc e = s->impl->poll(d.data(), n, timeout_ns, &got); e != Errc::ok) return to_int(e);
        for (size_t i = 0; i < got; ++i) to_c(d[i], &msgs[i]);
        const size_t total = got;
        return static_cast<int>(total);
    });
}

int broker_ack(cq_subscription *s, const char *topic, uint64_t offset) {
    return guard([&] {
        if (int r = pull_only(s, "broker_ack"); r != CQ_OK) return r;
        if (int r = check_topic(topic, "broker_ack"); r != CQ_OK) return r;
        return to_int(s->impl->ack(topic, offset));
    });
}

int broker_seek(cq_subscription *s, const char *topic, uint64_t offset) {
    return guard([&] {
        if (int r = pull_only(s, "broker_seek"); r != CQ_OK) return r;
        if (topic)
            if (int r = check_topic(topic, "broker_seek"); r != CQ_OK) return r;
        return to_int(s->impl->seek(topic, offset));
    });
}

int broker_seek_time(cq_subscription *s, int64_t timestamp_ns) {
    return guard([&] {
        if (int r = pull_only(s, "broker_seek_time"); r != CQ_OK) return r;
        return to_int(s->impl->seek_time(timestamp_ns));
    });
}

int broker_interrupt(cq_subscription *s) {
    return guard([&] {
        if (int r = pull_only(s, "broker_interrupt"); r != CQ_OK) return r;
        s->impl->interrupt();
        return CQ_OK;
    });
}

int broker_unsubscribe(cq_subscription *s) {
    return guard([&] {
        if (!s) return CQ_OK;
        Errc e = s->push ? s->push->stop() : s->impl->close();
        // release: the subscription's last use of the broker happens before
        // a broker_close that sees the count drop.
        s->owner->subscriptions.fetch_sub(1, std::memory_order_release);
        delete s;
        return to_int(e);
    });
}

int broker_stats(cq_broker *b, cq_broker_stats *out) {
    return guard([&] {
        if (!b || !out) return inval("broker_stats: b or out is NULL");
        if (out->struct_size < kStatsV1)
            return inval("broker_stats: out->struct_size is too small");
        bk::Broker &k = *b->impl;
        std::vector<std::string> names;
        k.topic_names(&names);
        cq_broker_stats c{};
        c.struct_size = out->struct_size;
        c.topics = static_cast<uint32_t>(names.size());
        bk::HandleStats &h = k.stats();
        c.published = h.published.load();
        c.published_bytes = h.published_bytes.load();
        c.delivered = h.delivered.load();
        c.fsyncs = h.fsyncs.load();
        c.segments_deleted = h.segments_deleted.load();
        c.publish_failures = h.publish_failures.load();
        for (const std::string &n : names) {
            std::shared_ptr<bk::Topic> t;
            if (k.topic(n, false, &t) != Errc::ok) continue;
            c.holes_skipped += t->ctl().holes_skipped.load();
            c.sync_failed |= t->ctl().sync_failed.load();
        }
        std::memcpy(out, &c, std::min<size_t>(out->struct_size, sizeof c));
        return CQ_OK;
    });
}

int broker_subscription_stats(cq_subscription *s, const char *topic, cq_subscription_stats *out) {
    return guard([&] {
        if (int r = pull_only(s, "broker_subscription_stats"); r != CQ_OK) return r;
        if (!out) return inval("broker_subscription_stats: out is NULL");
        if (int r = check_topic(topic, "broker_subscription_stats"); r != CQ_OK) return r;
        if (out->struct_size < kSubStatsV1)
            return inval("broker_subscription_stats: out->struct_size is too small");
        bk::SubStats st;
        if (Errc e = s->impl->stats(topic, &st); e != Errc::ok) return to_int(e);
        cq_subscription_stats c{};
        c.struct_size = out->struct_size;
        c.durable = st.durable;
        c.delivered = st.delivered;
        c.missed = st.missed;
        c.next_offset = st.next_offset;
        c.acked_offset = st.acked_offset;
        c.end_offset = st.end_offset;
        c.durable_offset = st.durable_offset;
        c.lag_records = st.lag_records;
        c.lag_bytes = st.lag_bytes;
        std::memcpy(out, &c, std::min<size_t>(out->struct_size, sizeof c));
        return CQ_OK;
    });
}

int broker_metrics(cq_broker *b, char *buf, size_t cap, size_t *needed) {
    return guard([&] {
        if (!b) return inval("broker_metrics: b is NULL");
        return copy_text(b->impl->metrics(), buf, cap, needed, "broker_metrics");
    });
}

int broker_topics(cq_broker *b, char *buf, size_t cap, size_t *needed) {
    return guard([&] {
        if (!b) return inval("broker_topics: b is NULL");
        std::vector<std::string> names;
        if (Errc e = b->impl->topic_names(&names); e != Errc::ok) return to_int(e);
        std::string s;
        for (auto &n : names) s += n + "\n";
        return copy_text(s, buf, cap, needed, "broker_topics");
    });
}

}  // extern "C"
