// Subscriptions: one cursor per matching topic over the topic's log.
#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>

#include "core/broker/ack.hpp"
#include "core/broker/broker.hpp"
#include "core/broker/io.hpp"
#include "core/broker/names.hpp"
#include "core/shm/futex.hpp"
#include "core/util/clock.hpp"

namespace cq::broker {

// How long an empty poll yields the CPU and looks again before it sleeps.
constexpr uint64_t kSpinNs = 50'000;

struct Subscription::Cursor {
    std::shared_ptr<Topic> topic;
    std::shared_ptr<Segment> seg;  // null: to be positioned at `next`
    uint64_t pos = 0;
    uint64_t lim = 0;                    // seg's limit as last read: records below it are reserved
    uint64_t next = 0;                   // offset of the next record to deliver
    uint64_t skip_below = 0;             // records below it are passed over silently (seek)
    int64_t skip_before_ts = INT64_MIN;  // seek by time: pass over older records
    uint64_t stuck_since = 0;            // monotonic ns since an uncommitted record blocks us
    uint64_t acked = 0;                  // next offset after the last ack
    uint64_t persisted = 0;              // what the ack file says
    bool ack_file = false;               // durable: whether it exists yet
    uint64_t delivered = 0, missed = 0;
    bool broken = false;
};

Subscription::~Subscription() = default;

Errc Subscription::create(Broker *b, const std::string &pattern, const char *id, bool durable,
                          bool earliest_flag, StartSpec start, std::unique_ptr<Subscription> *out) {
    std::unique_ptr<Subscription> s(new Subscription);
    s->b_ = b;
    s->pattern_ = pattern;
    s->durable_ = durable;
    s->earliest_ = earliest_flag;
    s->start_ = start;
    if (id) {
        s->id_ = id;
        if (durable) {
            const std::string d = b->ctx().dir + "/subs/" + s->id_;
            if (io_mkdir(d, 0700) != 0)
                return fail_errno(errc_from_errno(errno), errno, "mkdir %s", d.c_str());
            remove_stale_temps(d);  // ack files half-written by a killed process
        }
    }
    // A plain topic name is created on subscribe (the contract); a pattern
    // picks topics up as they appear.
    if (valid_topic(pattern)) {
        std::shared_ptr<Topic> t;
        if (Errc e = b->topic(pattern, true, &t); e != Errc::ok) return e;
    }
    if (Errc e = s->refresh_topics(true); e != Errc::ok) return e;
    *out = std::move(s);
    return Errc::ok;
}

Errc Subscription::refresh_topics(bool initial) {
    topic_gen_ = b_->control().topic_gen.load(std::memory_order_seq_cst);
    std::vector<std::string> names;
    if (Errc e = b_->topic_names(&names); e != Errc::ok) return e;
    for (const std::string &n : names) {
        if (!matches(pattern_, n)) continue;
        bool have = false;
        for (auto &c : cursors_) have = have || c->topic->name() == n;
        if (have) continue;
        // A refused topic (CORRUPT) does not stop a pattern from reading the
        // others; subscribing to it by name reports it. Any other failure
        // (an ack file that does not validate, I/O) is the caller's to see.
        std::shared_ptr<Topic> t;
        if (Errc e = b_->topic(n, false, &t); e != Errc::ok) {
            if (e == Errc::corrupt && n != pattern_) continue;
            return e;
        }
        if (Errc e = add_cursor(n, initial); e != Errc::ok) return e;
    }
    return Errc::ok;
}

Errc Subscription::add_cursor(const std::string &name, bool initial) {
    auto c = std::make_unique<Cursor>();
    if (Errc e = b_->topic(name, false, &c->topic); e != Errc::ok) return e;
    if (durable_) {
        uint64_t next = 0;
        const std::string path = b_->ctx().dir + "/subs/" + id_ + "/" + name + ".ack";
        Errc e = load_ack(path, &next);
        if (e == Errc::ok) {
            c->acked = c->persisted = next;
            c->ack_file = true;
            if (Errc p = position(*c, next, true); p != Errc::ok) return p;
            cursors_.push_back(std::move(c));
            return Errc::ok;
        }
        if (e != Errc::noent) return e;
    }
    // Topics that appear after the subscription started are read from their
    // beginning: every record in them is new to us.
    Errc e;
    StartSpec::Kind k = start_.kind;
    if (k == StartSpec::deflt)
        k = (earliest_ || !initial) ? StartSpec::earliest : StartSpec::latest;
    switch (k) {
        case StartSpec::earliest:
            e = position(*c, 0, false);
            break;
        case StartSpec::offset:
            // Clamped to the end: a cursor past it would pass over the
            // records published up to its offset, uncounted.
            e = position(*c, std::min(static_cast<uint64_t>(start_.value), c->topic->end_offset()),
                         false);
            break;
        case StartSpec::time:
            e = position_time(*c, start_.value);
            break;
        default:
            e = position_latest(*c);
            break;
    }
    if (e != Errc::ok) return e;
    c->acked = c->next;
    // A durable subscriber's position is on disk from the start, so that
    // retention knows what it has not read yet.
    if (durable_)
        if (Errc p = persist(*c); p != Errc::ok) return p;
    cursors_.push_back(std::move(c));
    return Errc::ok;
}

// Cursor at the segment holding `offset` (or the oldest, counting what
// retention deleted as missed), passing over records below it.
Errc Subscription::position(Cursor &c, uint64_t offset, bool count_missed) {
    std::vector<uint64_t> bases;
    if (Errc e = c.topic->bases(&bases); e != Errc::ok) return e;
    if (bases.empty())
        return fail(Errc::corrupt, "topic %s has no segment", c.topic->name().c_str());
    size_t i = 0;
    while (i + 1 < bases.size() && bases[i + 1] <= offset) ++i;
    if (offset < bases[0]) {
        if (count_missed) c.missed += bases[0] - offset;  // deleted before we read them
        offset = bases[0];
    }
    std::shared_ptr<Segment> s;
    Errc e = c.topic->segment(bases[i], &s);
    if (e == Errc::noent)
        return position(c, std::max(offset, bases[i] + 1), count_missed);  // deleted just now
    if (e != Errc::ok) return e;
    c.seg = std::move(s);
    c.pos = kSegmentHeaderSize;
    c.lim = 0;
    c.next = offset;
    c.skip_below = offset;
    c.stuck_since = 0;
    return Errc::ok;
}

Errc Subscription::position_latest(Cursor &c) {
    std::shared_ptr<Segment> s;
    if (Errc e = c.topic->active(&s); e != Errc::ok) return e;
    // The limit, not the raw tail: a sealed segment's tail also counts the
    // reservations that failed, whose offsets the next segment reuses.
    uint64_t sealed_count, lim, count;
    do {
        lim = s->limit(&sealed_count);
        count = sealed_count != UINT64_MAX
                    ? sealed_count
                    : count_of(s->header().tail.load(std::memory_order_seq_cst));
        // Sealed between the two loads: the tail's count is not the segment's.
    } while (sealed_count == UINT64_MAX && s->header().sealed.load(std::memory_order_seq_cst) != 0);
    c.seg = s;
    c.pos = lim;
    c.lim = lim;
    c.next = s->base() + std::min(count, kMaxCount);
    c.skip_below = c.next;
    return Errc::ok;
}

Errc Subscription::position_time(Cursor &c, int64_t ts) {
    std::vector<uint64_t> bases;
    if (Errc e = c.topic->bases(&bases); e != Errc::ok) return e;
    uint64_t from = bases.empty() ? 0 : bases.front();
    // Skip whole segments whose newest record is older than ts.
    for (uint64_t base : bases) {
        std::shared_ptr<Segment> s;
        if (c.topic->segment(base, &s) != Errc::ok) continue;
        from = base;
        const int64_t newest = s->header().newest_ns.load(std::memory_order_relaxed);
        if (newest == 0 || newest >= ts) break;
    }
    if (Errc e = position(c, from, false); e != Errc::ok) return e;
    c.skip_before_ts = ts;
    return Errc::ok;
}

Errc Subscription::step(Cursor &c, Delivered *out, bool *got, uint64_t *wake_at) {
    *got = false;
    const int64_t hole_timeout = b_->ctx().opts.hole_timeout_ns;
    for (int guard = 0; guard < 1 << 20; ++guard) {
        if (c.broken) return Errc::ok;
        if (!c.seg)
            if (Errc e = position(c, c.next, true); e != Errc::ok) return e;
        // The tail's line is written by every publish: read it only once
        // the cursor reaches what it said last time.
        uint64_t sealed_count = UINT64_MAX;
        if (c.pos >= c.lim) c.lim = c.seg->limit(&sealed_count);
        const uint64_t lim = c.lim;
        if (c.pos >= lim) {
            if (sealed_count == UINT64_MAX) return Errc::ok;  // caught up
            const uint64_t next_base = c.seg->base() + sealed_count;
            std::shared_ptr<Segment> n;
            Errc e = c.topic->segment(next_base, &n);
            if (e == Errc::noent) {
                // Not created yet (a roll in progress; help it after a while),
                // or deleted by retention (then reposition at the oldest).
                std::vector<uint64_t> bases;
                c.topic->bases(&bases);
                if (!bases.empty() && bases.back() > next_base) {
                    if (c.next < bases.front()) c.missed += bases.front() - c.next;
                    if (Errc p = position(c, std::max(c.next, bases.front()), false); p != Errc::ok)
                        return p;
                    continue;
                }
                const uint64_t now = monotonic_ns();
                if (!c.stuck_since) c.stuck_since = now;
                if (now - c.stuck_since >= static_cast<uint64_t>(hole_timeout)) {
                    c.stuck_since = 0;
                    if (Errc r = c.topic->roll(*c.seg); r != Errc::ok) return r;
                    continue;
                }
                *wake_at = std::min(*wake_at, c.stuck_since + hole_timeout);
                return Errc::ok;
            }
            if (e != Errc::ok) return e;
            c.seg = std::move(n);
            c.pos = kSegmentHeaderSize;
            c.lim = 0;
            c.stuck_since = 0;
            continue;
        }
        RecordView v = c.seg->read_at(c.pos);
        switch (v.kind) {
            case RecordView::record:
                if (v.offset < c.next && v.offset >= c.skip_below) {
                    c.broken = true;
                    return fail(Errc::corrupt,
                                "topic %s, segment %s, byte %" PRIu64 ": offset %" PRIu64
                                " after %" PRIu64 " (out of sequence)",
                                c.topic->name().c_str(), c.seg->path().c_str(), c.pos, v.offset,
                                c.next);
                }
                c.pos += v.size;
                c.stuck_since = 0;
                if (v.offset < c.skip_below) continue;
                if (v.timestamp_ns < c.skip_before_ts) {
                    c.next = v.offset + 1;
                    continue;
                }
                c.skip_before_ts = INT64_MIN;
                if (v.offset > c.next) c.missed += v.offset - c.next;  // a dead publisher's gap
                c.next = v.offset + 1;
                out->offset = v.offset;
                out->timestamp_ns = v.timestamp_ns;
                out->topic = c.topic->name().c_str();
                out->data = v.data;
                out->len = v.len;
                if (hold_.empty() || hold_.back() != c.seg) hold_.push_back(c.seg);
                ++c.delivered;
                *got = true;
                return Errc::ok;
            case RecordView::padding:
                c.pos += v.size;
                c.stuck_since = 0;
                continue;
            case RecordView::empty: {
                // Reserved, not committed: a publisher is writing it, or died.
                const uint64_t now = monotonic_ns();
                if (!c.stuck_since) c.stuck_since = now;
                if (now - c.stuck_since >= static_cast<uint64_t>(hole_timeout)) {
                    if (c.topic->skip_hole(*c.seg, c.pos, lim)) {
                        c.stuck_since = 0;
                        continue;
                    }
                    // A live writer holds it: look again soon.
                    *wake_at = std::min(*wake_at, now + 10'000'000);
                    return Errc::ok;
                }
                *wake_at = std::min(*wake_at, c.stuck_since + hole_timeout);
                return Errc::ok;
            }
            case RecordView::bad:
                c.broken = true;
                return fail(Errc::corrupt,
                            "topic %s, segment %s, byte %" PRIu64
                            ": %s; the topic is skipped from now on",
                            c.topic->name().c_str(), c.seg->path().c_str(), c.pos, v.why);
        }
    }
    return Errc::ok;
}

Errc Subscription::poll(Delivered *out, size_t max, int64_t timeout_ns, size_t *got) {
    *got = 0;
    hold_.clear();
    BrokerControl &bc = b_->control();
    const uint64_t deadline = deadline_after(timeout_ns);
    const uint32_t interrupts = interrupts_.load(std::memory_order_seq_cst);
    auto interrupted = [&] { return interrupts_.load(std::memory_order_seq_cst) != interrupts; };
    for (;;) {
        // interrupt() moves its counter, then publish_seq, then wakes: if
        // this load sees the old seq the futex_wait below returns at once,
        // and if it sees the new one the checks after it see the counter.
        const uint32_t seq = bc.publish_seq.load(std::memory_order_seq_cst);
        if (bc.topic_gen.load(std::memory_order_seq_cst) != topic_gen_)
            if (Errc e = refresh_topics(false); e != Errc::ok) return e;
        uint64_t wake_at = UINT64_MAX;
        // Round robin over the topics, as many records as fit.
        size_t idle = 0;
        while (*got < max && idle < cursors_.size()) {
            Cursor &c = *cursors_[rr_ % cursors_.size()];
            bool one;
            Errc e = step(c, &out[*got], &one, &wake_at);
            if (e != Errc::ok) {
                if (*got > 0) return Errc::ok;  // deliver what we have; the error comes next time
                return e;
            }
            if (one) {
                ++*got;
                idle = 0;
            } else {
                ++idle;
                ++rr_;
            }
        }
        if (*got > 0) {
            b_->stats().delivered.fetch_add(*got, std::memory_order_relaxed);
            return Errc::ok;
        }
        if (interrupted())
            return fail_static(Errc::canceled,
                               "broker_poll: the wait was ended by broker_interrupt");
        const uint64_t now = monotonic_ns();
        if (now >= deadline)
            return fail_static(Errc::timedout, "broker_poll: nothing to deliver in time");
        // Something committed (or sealed) at any cursor's position?
        auto ready = [&] {
            for (auto &cp : cursors_) {
                Cursor &c = *cp;
                if (c.broken || !c.seg) continue;
                const uint64_t lim = c.seg->limit();
                if (c.pos < lim ? c.seg->read_at(c.pos).kind != RecordView::empty
                                : c.seg->header().sealed.load(std::memory_order_seq_cst) != 0)
                    return true;
            }
            return false;
        };
        // Before sleeping, give the publishers a moment (yielding the CPU to
        // them): a poller that sleeps at once makes each publish pay a
        // futex_wake and itself a wake-up per handful of records.
        bool now_ready = false;
        for (uint64_t until = now + kSpinNs;
             !now_ready && !interrupted() && monotonic_ns() < std::min(until, deadline);) {
            sched_yield();
            now_ready = ready();
        }
        if (now_ready) continue;
        // Register, re-check, sleep: a publisher commits with a seq_cst RMW
        // and then loads poll_waiters (no lost wake-up).
        bc.poll_waiters.fetch_add(1, std::memory_order_seq_cst);
        bc.wake_pending.store(0, std::memory_order_seq_cst);
        if (!ready() && bc.topic_gen.load(std::memory_order_seq_cst) == topic_gen_)
            futex_wait(reinterpret_cast<const uint32_t *>(&bc.publish_seq), seq,
                       std::min(deadline, wake_at));
        bc.poll_waiters.fetch_sub(1, std::memory_order_relaxed);
    }
}

Errc Subscription::persist(Cursor &c) {
    if (!durable_ || (c.ack_file && c.persisted >= c.acked)) return Errc::ok;
    uint64_t target = c.acked;
    const bool sync = b_->ctx().opts.fsync != FsyncPolicy::none;
    if (sync) {
        // Never ahead of the durable end of the log: make it durable first.
        TopicControl &tc = c.topic->ctl();
        if (tc.durable_offset.load(std::memory_order_acquire) < target) c.topic->sync_round();
        target = std::min(target, tc.durable_offset.load(std::memory_order_acquire));
        if (c.ack_file && target <= c.persisted) return Errc::ok;  // later, once synced
    }
    const std::string dir = b_->ctx().dir + "/subs/" + id_;
    if (Errc e =
            store_ack(dir, dir + "/" + c.topic->name() + ".ack", target, sync, b_->ctx().opts.mode);
        e != Errc::ok)
        return e;
    c.persisted = target;
    c.ack_file = true;
    return Errc::ok;
}

Errc Subscription::ack(const std::string &topic, uint64_t offset) {
    for (auto &cp : cursors_) {
        Cursor &c = *cp;
        if (c.topic->name() != topic) continue;
        if (offset >= c.next)
            return fail(Errc::inval,
                        "broker_ack: offset %" PRIu64 " of %s was not delivered yet (next %" PRIu64
                        ")",
                        offset, topic.c_str(), c.next);
        c.acked = std::max(c.acked, offset + 1);
        return persist(c);
    }
    return fail(Errc::inval, "broker_ack: this subscription has no topic %s", topic.c_str());
}

Errc Subscription::seek(const char *topic, uint64_t offset) {
    bool found = false;
    for (auto &cp : cursors_) {
        if (topic && cp->topic->name() != topic) continue;
        found = true;
        const uint64_t missed = cp->missed;
        // Clamped to the end, as to the start: see StartSpec::offset above.
        if (Errc e = position(*cp, std::min(offset, cp->topic->end_offset()), false); e != Errc::ok)
            return e;
        cp->missed = missed;
        cp->broken = false;
    }
    if (!found)
        return fail(Errc::noent, "broker_seek: this subscription has no topic %s",
                    topic ? topic : "");
    return Errc::ok;
}

void Subscription::interrupt() {
    interrupts_.fetch_add(1, std::memory_order_seq_cst);
    BrokerControl &bc = b_->control();
    bc.publish_seq.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(reinterpret_cast<const uint32_t *>(&bc.publish_seq), INT_MAX);
}

Errc Subscription::seek_time(int64_t ts) {
    for (auto &cp : cursors_) {
        const uint64_t missed = cp->missed;
        if (Errc e = position_time(*cp, ts); e != Errc::ok) return e;
        cp->missed = missed;
        cp->broken = false;
    }
    return Errc::ok;
}

Errc Subscription::stats(const std::string &topic, SubStats *out) {
    for (auto &cp : cursors_) {
        Cursor &c = *cp;
        if (c.topic->name() != topic) continue;
        out->durable = durable_;
        out->delivered = c.delivered;
        out->missed = c.missed;
        out->next_offset = c.next;
        out->acked_offset = c.acked;
        out->end_offset = c.topic->end_offset();
        out->durable_offset = b_->ctx().opts.fsync == FsyncPolicy::none
                                  ? out->end_offset
                                  : c.topic->ctl().durable_offset.load(std::memory_order_acquire);
        out->lag_records = out->end_offset > c.next ? out->end_offset - c.next : 0;
        // Bytes from the cursor to the end: the rest of its segment, then
        // whole later segments up to the active one's tail.
        uint64_t bytes = 0;
        if (c.seg) {
            std::shared_ptr<Segment> s = c.seg;
            uint64_t pos = c.pos;
            for (int i = 0; i < 1 << 16 && s; ++i) {
                uint64_t sealed_count;
                const uint64_t lim = s->limit(&sealed_count);
                if (lim > pos) bytes += lim - pos;
                if (sealed_count == UINT64_MAX) break;
                std::shared_ptr<Segment> n;
                if (c.topic->segment(s->base() + sealed_count, &n) != Errc::ok) break;
                s = n;
                pos = kSegmentHeaderSize;
            }
        }
        out->lag_bytes = bytes;
        return Errc::ok;
    }
    return fail(Errc::noent, "this subscription has no topic %s", topic.c_str());
}

Errc Subscription::close() {
    Errc result = Errc::ok;
    for (auto &cp : cursors_)
        if (Errc e = persist(*cp); e != Errc::ok) result = e;
    return result;
}

}  // namespace cq::broker
