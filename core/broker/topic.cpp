#include "core/broker/topic.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstring>

#include "core/broker/ack.hpp"
#include "core/broker/io.hpp"
#include "core/shm/futex.hpp"
#include "core/util/clock.hpp"
#include "core/util/crc32c.hpp"

namespace cq::broker {
namespace {

constexpr uint64_t kIndexShift = kPosBits;
uint64_t slot_key(uint32_t index, uint64_t pos) {
    return uint64_t{index} << kIndexShift | pos;
}

uint32_t ctl_checksum(const TopicControl &c) {
    return crc32c(0, &c, kTopicChecksummed);
}

const uint32_t *word(const std::atomic<uint32_t> &a) {
    return reinterpret_cast<const uint32_t *>(&a);
}

// Wakes pollers of every topic of the broker (they wait on one word).
// At most one wake-up in flight: a poller clears wake_pending (seq_cst)
// after registering and before its re-check, so a commit either is seen by
// that re-check or sees the flag clear and wakes. Without it, every commit
// made while woken pollers had not yet left the count paid a futex_wake.
void wake_pollers(BrokerControl *b) {
    if (b->poll_waiters.load(std::memory_order_seq_cst) == 0) return;
    if (b->wake_pending.load(std::memory_order_seq_cst) != 0 ||
        b->wake_pending.exchange(1, std::memory_order_seq_cst) != 0)
        return;
    b->publish_seq.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(word(b->publish_seq), INT_MAX);
}

}  // namespace

Errc Topic::open(Context *ctx, const std::string &name, bool create, std::shared_ptr<Topic> *out) {
    std::shared_ptr<Topic> t(new Topic);
    t->ctx_ = ctx;
    t->name_ = name;
    t->dir_ = ctx->dir + "/topics/" + name;
    if (Errc e = t->create_files(create); e != Errc::ok) return e;
    if (Errc e = t->map_control(); e != Errc::ok) return e;
    *out = std::move(t);
    return Errc::ok;
}

Topic::~Topic() = default;

Errc Topic::create_files(bool create) {
    struct stat st;
    const std::string ctl_path = dir_ + "/control";
    if (::stat(ctl_path.c_str(), &st) == 0) return Errc::ok;
    if (!create) return fail(Errc::noent, "topic %s does not exist", name_.c_str());
    if (io_mkdir(ctx_->dir + "/topics", 0700) != 0 || io_mkdir(dir_, 0700) != 0)
        return fail_errno(errc_from_errno(errno), errno, "mkdir %s", dir_.c_str());
    const bool sync = ctx_->opts.fsync != FsyncPolicy::none;
    // The first segment, then the control file naming it: the control file
    // appears (by rename) only once everything it names exists.
    std::shared_ptr<Segment> first;
    if (Errc e =
            Segment::create(dir_, 0, 0, ctx_->opts.segment_size, ctx_->opts.mode, sync, &first);
        e != Errc::ok)
        return e;
    auto c = std::make_unique<TopicControl>();
    std::memset(static_cast<void *>(c.get()), 0, sizeof(TopicControl));
    c->magic = kTopicMagic;
    c->version = kTopicVersion;
    c->size = sizeof(TopicControl);
    c->max_slots = kMaxHandles;
    c->checksum = ctl_checksum(*c);
    c->durable_base.store(0, std::memory_order_relaxed);
    c->durable_pos.store(kSegmentHeaderSize, std::memory_order_relaxed);
    for (auto &s : c->slots) s.key.store(kIdle, std::memory_order_relaxed);
    if (Errc e = write_file_whole(dir_, ctl_path, c.get(), sizeof(TopicControl), ctx_->opts.mode,
                                  sync, false);
        e != Errc::ok)
        return e;
    // A new topic: pattern subscriptions look for it.
    ctx_->bctl->topic_gen.fetch_add(1, std::memory_order_seq_cst);
    wake_pollers(ctx_->bctl);
    return Errc::ok;
}

Errc Topic::map_control() {
    const std::string path = dir_ + "/control";
    ctl_fd_ = Fd(io_open(path, O_RDWR, 0));
    if (!ctl_fd_.valid()) return fail_errno(errc_from_errno(errno), errno, "open %s", path.c_str());
    struct stat st;
    if (::fstat(ctl_fd_.get(), &st) != 0)
        return fail_errno(Errc::io, errno, "fstat %s", path.c_str());
    if (static_cast<uint64_t>(st.st_size) != sizeof(TopicControl))
        return fail(Errc::corrupt, "topic control %s: size %lld, expected %zu", path.c_str(),
                    static_cast<long long>(st.st_size), sizeof(TopicControl));
    void *p =
        ::mmap(nullptr, sizeof(TopicControl), PROT_READ | PROT_WRITE, MAP_SHARED, ctl_fd_.get(), 0);
    if (p == MAP_FAILED) return fail_errno(errc_from_errno(errno), errno, "mmap %s", path.c_str());
    ctl_map_ = Mapping(p, sizeof(TopicControl));
    auto *c = static_cast<TopicControl *>(p);
    if (c->magic != kTopicMagic)
        return fail(Errc::corrupt, "topic control %s: bad magic", path.c_str());
    if (c->version != kTopicVersion)
        return fail(Errc::version, "topic control %s: version %u, this library reads %u",
                    path.c_str(), c->version, kTopicVersion);
    if (c->size != sizeof(TopicControl) || c->max_slots != kMaxHandles ||
        ctl_checksum(*c) != c->checksum)
        return fail(Errc::corrupt, "topic control %s: header checksum or sizes do not match",
                    path.c_str());
    ctl_ = c;
    return Errc::ok;
}

// First publish of this handle to this topic: claim our writer slot (an
// earlier owner of the slot number is dead; its key is superseded by gen).
void Topic::attach_slot() {
    WriterSlot &s = ctl_->slots[ctx_->slot];
    // The handle slot's previous owner is dead (we hold its lock now). If it
    // died inside a reservation, its key is the only record of where that
    // ends: settle it before the key is gone.
    const uint64_t k = s.key.load(std::memory_order_seq_cst);
    if (k != kIdle && k != kReserving)
        settle_dead_reservation(static_cast<uint32_t>(k >> kIndexShift), k & kPosMask,
                                pos_of(s.size.load(std::memory_order_seq_cst)));
    s.key.store(kIdle, std::memory_order_seq_cst);
    s.gen.store(ctx_->gen, std::memory_order_seq_cst);
    slot_attached_.store(true, std::memory_order_release);
}

void Topic::settle_dead_reservation(uint32_t index, uint64_t pos, uint64_t bytes) {
    std::vector<uint64_t> b;
    if (bases(&b) != Errc::ok) return;
    std::shared_ptr<Segment> seg;
    for (auto it = b.rbegin(); it != b.rend() && !seg; ++it) {
        std::shared_ptr<Segment> s;
        if (segment(*it, &s) != Errc::ok) continue;
        if (s->index() == index)
            seg = std::move(s);
        else if (s->index() < index)
            break;  // deleted by retention
    }
    if (!seg) return;
    // The writer committed its records in order: walk those it committed,
    // pad from the first it did not to the end of its reservation.
    const uint64_t end = std::min(pos + bytes, seg->size());
    const uint64_t q = seg->skip_committed(pos, end);
    // (A bad record there: readers report it.)
    if (q < end && seg->read_at(q).kind == RecordView::empty && seg->pad(q, end - q))
        ctl_->holes_skipped.fetch_add(1, std::memory_order_relaxed);
}

bool Topic::slot_live(uint32_t i) const {
    return ctx_->live(i, ctl_->slots[i].gen.load(std::memory_order_seq_cst));
}

Errc Topic::segment(uint64_t base, std::shared_ptr<Segment> *out) {
    std::lock_guard lock(segs_mu_);
    if (auto it = segs_.find(base); it != segs_.end()) {
        *out = it->second;
        return Errc::ok;
    }
    std::shared_ptr<Segment> s;
    if (Errc e = Segment::open(dir_, base, &s); e != Errc::ok) return e;
    // Keep the cache small: readers hold their own references.
    while (segs_.size() >= 4) segs_.erase(segs_.begin());
    segs_[base] = s;
    *out = std::move(s);
    return Errc::ok;
}

Errc Topic::active(std::shared_ptr<Segment> *out) {
    return segment(ctl_->active_base.load(std::memory_order_acquire), out);
}

Errc Topic::bases(std::vector<uint64_t> *out) const {
    return Segment::list(dir_, out);
}

uint64_t Topic::end_offset() {
    std::shared_ptr<Segment> s;
    if (active(&s) != Errc::ok) return 0;
    uint64_t sealed_count;
    s->limit(&sealed_count);
    if (sealed_count != UINT64_MAX) return s->base() + sealed_count;
    return s->base() + count_of(s->header().tail.load(std::memory_order_acquire));
}

Errc Topic::publish(const Message *msgs, size_t n, uint64_t *first_offset, size_t *appended) {
    *appended = 0;
    if (ctl_->sync_failed.load(std::memory_order_acquire))
        return fail(Errc::io,
                    "topic %s: an earlier fdatasync failed; the broker acknowledges no more writes",
                    name_.c_str());
    // Held while reserving and writing, released before waiting for the sync:
    // threads of one handle then share a group commit like processes do.
    std::unique_lock lock(publish_mu_);
    if (!slot_attached_.load(std::memory_order_acquire)) attach_slot();
    WriterSlot &slot = ctl_->slots[ctx_->slot];
    uint64_t deadline = 0;  // for waits on a roll; read the clock only if one happens
    auto wait_deadline = [&] {
        if (!deadline) deadline = deadline_after(ctx_->opts.block_timeout_ns);
        return deadline;
    };
    uint64_t last_end = 0;
    size_t done = 0;
    while (done < n) {
        // The segment we wrote to last, unless the topic rolled since: no
        // cache lookup (a mutex and a map) per publish.
        const uint64_t active_base = ctl_->active_base.load(std::memory_order_acquire);
        if (!writing_ || writing_->base() != active_base)
            if (Errc e = segment(active_base, &writing_); e != Errc::ok) return e;
        const std::shared_ptr<Segment> &seg = writing_;
        SegmentHeader &h = seg->header();
        const uint64_t room = seg->size() - kSegmentHeaderSize;
        // As many of the remaining messages as go in one reservation (at
        // most a quarter of a segment, so a batch does not waste segments).
        uint64_t total = 0;
        size_t k = 0;
        while (done + k < n) {
            const uint64_t sz = record_size(msgs[done + k].len);
            if (sz > room)
                return fail(Errc::msgsize,
                            "topic %s: a %zu-byte message does not fit a %" PRIu64 "-byte segment",
                            name_.c_str(), msgs[done + k].len, seg->size());
            if (k > 0 && total + sz > room / 4) break;
            total += sz;
            ++k;
        }
        if (h.sealed.load(std::memory_order_acquire)) {
            if (Errc e = roll_wait(*seg, wait_deadline()); e != Errc::ok) return e;
            continue;
        }
        // Announce, reserve, then say where: a reader that sees kReserving
        // waits, one that sees our key knows our extent (docs: holes).
        // relaxed: the seq_cst fetch_add below releases it, so a reader that
        // sees our reservation in the tail (acquire or stronger) sees it too.
        slot.key.store(kReserving, std::memory_order_relaxed);
        const uint64_t r = h.tail.fetch_add(pack(k, total), std::memory_order_seq_cst);
        const uint64_t pos = pos_of(r), cnt = count_of(r);
        if (pos < kSegmentHeaderSize || pos % 8 != 0) {
            // The tail lives in a file every process maps: checked, not trusted.
            slot.key.store(kIdle, std::memory_order_release);
            return fail(Errc::corrupt,
                        "topic %s: segment %u's tail (byte %" PRIu64 ") is not a record position",
                        name_.c_str(), seg->index(), pos);
        }
        slot.size.store(pack(cnt, total), std::memory_order_relaxed);
        // release: with the size above, for a reader that loads the key.
        slot.key.store(slot_key(seg->index(), pos), std::memory_order_release);
        if (pos + total <= seg->size()) {
            const int64_t now = realtime_ns();
            uint64_t p = pos;
            for (size_t i = 0; i < k; ++i) {
                const Message &m = msgs[done + i];
                seg->write_record(p, seg->base() + cnt + i, now, m.data,
                                  static_cast<uint32_t>(m.len));
                p += record_size(m.len);
            }
            int64_t prev = h.newest_ns.load(std::memory_order_relaxed);
            while (prev < now &&
                   !h.newest_ns.compare_exchange_weak(prev, now, std::memory_order_relaxed)) {
            }
            slot.key.store(kIdle, std::memory_order_release);
            if (done == 0 && first_offset) *first_offset = seg->base() + cnt;
            done += k;
            *appended = done;
            last_end = seg->base() + cnt + k;
            uint64_t bytes = 0;
            for (size_t i = done - k; i < done; ++i) bytes += msgs[i].len;
            ctx_->stats->published.fetch_add(k, std::memory_order_relaxed);
            ctx_->stats->published_bytes.fetch_add(bytes, std::memory_order_relaxed);
            wake_pollers(ctx_->bctl);
            continue;
        }
        // It does not fit. The first reservation past the end (the closer)
        // pads the rest of the segment and seals it; the others wait.
        if (pos <= seg->size()) {
            if (pos < seg->size()) seg->pad(pos, seg->size() - pos);
            h.sealed.store(pack(cnt, pos) + 1, std::memory_order_seq_cst);
            slot.key.store(kIdle, std::memory_order_release);
            if (Errc e = roll(*seg); e != Errc::ok) return e;
        } else {
            slot.key.store(kIdle, std::memory_order_release);
            if (Errc e = roll_wait(*seg, wait_deadline()); e != Errc::ok) return e;
        }
    }
    lock.unlock();
    const FsyncPolicy p = ctx_->opts.fsync;
    if (p == FsyncPolicy::group || p == FsyncPolicy::always)
        return sync_to(last_end, p == FsyncPolicy::always);
    return Errc::ok;
}

Errc Topic::roll_wait(const Segment &seg, uint64_t deadline) {
    const uint64_t started = monotonic_ns();
    for (;;) {
        if (ctl_->active_base.load(std::memory_order_acquire) != seg.base()) return Errc::ok;
        if (seg.header().sealed.load(std::memory_order_acquire)) return roll(seg);  // help
        // Not sealed: its closer is between its reservation and the seal, or
        // dead there. Seal for it once it is surely dead.
        if (monotonic_ns() - started >= 1'000'000 && seal_for_dead_closer(seg)) continue;
        const uint64_t now = monotonic_ns();
        if (now >= deadline)
            return fail(Errc::timedout,
                        "topic %s: segment %u stayed full (its closer is alive but stalled)",
                        name_.c_str(), seg.index());
        const uint32_t seq = ctl_->active_seq.load(std::memory_order_seq_cst);
        ctl_->roll_waiters.fetch_add(1, std::memory_order_seq_cst);
        if (ctl_->active_base.load(std::memory_order_seq_cst) == seg.base() &&
            !seg.header().sealed.load(std::memory_order_seq_cst))
            futex_wait(word(ctl_->active_seq), seq, std::min(deadline, now + 1'000'000));
        ctl_->roll_waiters.fetch_sub(1, std::memory_order_relaxed);
    }
}

template <typename F>
bool Topic::scan_writers(const Segment &seg, F f) const {
    for (uint32_t i = 0; i < kMaxHandles; ++i) {
        const WriterSlot &s = ctl_->slots[i];
        const uint64_t k = s.key.load(std::memory_order_seq_cst);
        if (k == kIdle) continue;
        const bool alive = slot_live(i);
        if (k == kReserving) {
            if (alive) return false;  // may be anywhere past the tail we read
            continue;                 // died before saying where: not in the slots
        }
        if ((k >> kIndexShift) != seg.index()) continue;
        if (!f(k & kPosMask, s.size.load(std::memory_order_relaxed), alive)) return false;
    }
    return true;
}

bool Topic::seal_for_dead_closer(const Segment &seg) {
    SegmentHeader &h = seg.header();
    // The tail before the slots: any reservation not announced in a slot we
    // read below lies past this tail (docs: holes).
    const uint64_t t = h.tail.load(std::memory_order_seq_cst);
    uint64_t value = 0;
    const bool no_live_closer = scan_writers(seg, [&](uint64_t kp, uint64_t sz, bool alive) {
        if (kp <= seg.size() && kp + pos_of(sz) > seg.size()) {  // the closer
            if (alive) return false;                             // it will seal
            value = pack(count_of(sz), kp) + 1;
        }
        return true;
    });
    if (!no_live_closer) return false;
    // The closer died before telling its position: everything reserved up to
    // the tail belongs to this segment (readers skip the holes), and the
    // offsets of the failed reservations are never used.
    if (!value) value = pack(count_of(t), seg.size()) + 1;
    uint64_t expected = 0;
    h.sealed.compare_exchange_strong(expected, value, std::memory_order_seq_cst);
    return true;
}

Errc Topic::roll(const Segment &seg) {
    const uint64_t sealed = seg.header().sealed.load(std::memory_order_acquire);
    if (!sealed) return fail(Errc::io, "internal: roll of an unsealed segment");
    const uint64_t next = seg.base() + count_of(sealed - 1);
    if (ctl_->active_base.load(std::memory_order_acquire) != seg.base()) return Errc::ok;
    struct stat st;
    if (::stat((dir_ + "/" + Segment::file_name(next)).c_str(), &st) != 0) {
        if (Errc e = enforce_retention(ctx_->opts.segment_size); e != Errc::ok) return e;
        std::shared_ptr<Segment> n;
        if (Errc e = Segment::create(dir_, next, seg.index() + 1, ctx_->opts.segment_size,
                                     ctx_->opts.mode, ctx_->opts.fsync != FsyncPolicy::none, &n);
            e != Errc::ok)
            return e;
    }
    uint64_t expected = seg.base();
    if (ctl_->active_base.compare_exchange_strong(expected, next, std::memory_order_seq_cst)) {
        ctl_->active_seq.fetch_add(1, std::memory_order_seq_cst);
        if (ctl_->roll_waiters.load(std::memory_order_seq_cst))
            futex_wake(word(ctl_->active_seq), INT_MAX);
        wake_pollers(ctx_->bctl);  // readers at the end of the old segment move on
    }
    return Errc::ok;
}

bool Topic::skip_hole(const Segment &seg, uint64_t pos, uint64_t limit) {
    // `limit` was read (tail or seal) before the slots below.
    uint64_t end = limit, known_end = 0;
    const bool no_live_writer_here = scan_writers(seg, [&](uint64_t kp, uint64_t sz, bool alive) {
        // A reservation holds a batch: pos may lie past its first record.
        const bool covers = kp <= pos && pos < kp + pos_of(sz);
        if (alive) {
            if (covers) return false;  // being written (or its writer is stopped)
            if (kp > pos) end = std::min(end, kp);
        } else if (covers) {
            // The dead writer committed its records in order, so nothing of
            // its reservation from pos on was committed.
            known_end = kp + pos_of(sz);
        }
        return true;
    });
    if (!no_live_writer_here) return false;
    if (known_end) {
        end = std::min(end, known_end);
    } else {
        // The dead writer never said where it wrote (it died announcing its
        // reservation, so wrote nothing there): the hole ends at the next
        // record whose CRC validates, or at the limit. Not at a word that
        // merely looks like padding: padding carries no CRC, and any 8 bytes
        // of a dead writer's half-written record can look like it.
        for (uint64_t q = pos + 8; q < end; q += 8) {
            if (seg.read_at(q).kind == RecordView::record) {
                end = q;
                break;
            }
        }
    }
    if (end <= pos) return false;
    if (seg.pad(pos, end - pos)) ctl_->holes_skipped.fetch_add(1, std::memory_order_relaxed);
    return true;
}

// ---- durability ------------------------------------------------------------------

Errc Topic::lead_sync() {
    // We own sync_owner: walk from the durable frontier over committed
    // records, fdatasync every segment walked, then move the frontier. A
    // record committed before the fdatasync started is on disk after it.
    uint64_t base = ctl_->durable_base.load(std::memory_order_acquire);
    uint64_t pos = ctl_->durable_pos.load(std::memory_order_acquire);
    uint64_t off = ctl_->durable_offset.load(std::memory_order_acquire);
    std::vector<std::shared_ptr<Segment>> touched;
    std::shared_ptr<Segment> seg;
    if (Errc e = segment(base, &seg); e != Errc::ok) {
        // Deleted by retention: restart from the oldest segment on disk.
        std::vector<uint64_t> b;
        if (bases(&b) != Errc::ok || b.empty() || segment(b.front(), &seg) != Errc::ok) return e;
        base = seg->base();
        pos = kSegmentHeaderSize;
        off = std::max(off, base);
    }
    touched.push_back(seg);
    bool restarted = false;
    for (int steps = 0; steps < 1 << 22; ++steps) {
        uint64_t sealed_count;
        const uint64_t lim = seg->limit(&sealed_count);
        if (pos > lim || pos < kSegmentHeaderSize || pos % 8 != 0) {
            // Not a position the walk can have stopped at (a damaged control
            // file, or a tail that recovery moved back): walk the segment.
            if (restarted) break;
            restarted = true;
            pos = kSegmentHeaderSize;
            continue;
        }
        if (pos == lim) {
            if (sealed_count == UINT64_MAX) break;
            std::shared_ptr<Segment> next;
            if (segment(seg->base() + sealed_count, &next) != Errc::ok) break;
            seg = next;
            touched.push_back(seg);
            base = seg->base();
            pos = kSegmentHeaderSize;
            off = std::max(off, base);
            continue;
        }
        RecordView v = seg->read_at(pos);
        if (v.kind == RecordView::record) {
            off = std::max(off, v.offset + 1);
        } else if (v.kind != RecordView::padding) {
            // Not committed yet (or bad: readers report it). Stuck here for
            // hole_timeout_ns: make sure pos is a record's (it came from the
            // shared control file), then pad it if its writer is dead.
            if (!stuck_for_a_while(*seg, pos)) break;
            if (!stuck_checked_) {
                // Once per stuck position: a live writer stopped there keeps
                // us here round after round, and this walks the segment.
                if (seg->skip_committed(kSegmentHeaderSize, pos) != pos) {
                    if (restarted) break;
                    restarted = true;  // not a record's position: walk the segment again
                    pos = kSegmentHeaderSize;
                    continue;
                }
                stuck_checked_ = true;
            }
            if (v.kind == RecordView::empty && skip_hole(*seg, pos, lim))
                continue;  // a dead writer's hole, padded now: read it again
            break;
        }
        pos += v.size;
    }
    for (auto &s : touched) {
        if (io_fdatasync(s->fd(), s->path()) != 0) {
            const int err = errno;
            ctl_->sync_failed.store(1, std::memory_order_seq_cst);
            return fail_errno(Errc::io, err,
                              "fdatasync %s (the broker acknowledges no more writes to %s)",
                              s->path().c_str(), name_.c_str());
        }
        ctx_->stats->fsyncs.fetch_add(1, std::memory_order_relaxed);
    }
    // In this order, so that a leader killed between two stores leaves a
    // true durable_offset (everything below `off` is on disk now) and a
    // position that is a record's in its segment (the first record's
    // position is one in any segment): the next leader walks from there.
    ctl_->durable_offset.store(off, std::memory_order_release);
    if (ctl_->durable_base.load(std::memory_order_relaxed) != base)
        ctl_->durable_pos.store(kSegmentHeaderSize, std::memory_order_release);
    ctl_->durable_base.store(base, std::memory_order_release);
    ctl_->durable_pos.store(pos, std::memory_order_release);
    return Errc::ok;
}

bool Topic::stuck_for_a_while(const Segment &seg, uint64_t pos) {
    // Without the padding this leads to, a dead writer's hole would hold
    // back every later record of a topic that no subscriber reads (readers
    // pad holes, see skip_hole): GROUP publishes would wait for ever.
    const uint64_t now = monotonic_ns();
    if (stuck_base_ != seg.base() || stuck_pos_ != pos) {
        stuck_base_ = seg.base();
        stuck_pos_ = pos;
        stuck_since_ = now;
        stuck_checked_ = false;
        return false;
    }
    return now - stuck_since_ >= static_cast<uint64_t>(ctx_->opts.hole_timeout_ns);
}

// sync_owner names the leader: its handle slot + 1 in the low 9 bits, the
// low 23 bits of the slot's generation above (a later owner of the same slot
// is not mistaken for the leader).
uint32_t Topic::owner_word() const {
    return static_cast<uint32_t>(ctx_->gen & 0x7FFFFF) << 9 | (ctx_->slot + 1);
}

bool Topic::owner_live(uint32_t owner) const {
    const uint32_t slot = (owner & 511) - 1;
    if (slot >= kMaxHandles) return false;
    const uint64_t gen = ctx_->bctl->slot_gen[slot].load(std::memory_order_seq_cst);
    if ((gen & 0x7FFFFF) != owner >> 9) return false;
    return ctx_->live(slot, gen);
}

bool Topic::claim_lead() {
    const uint32_t me = owner_word();
    uint32_t owner = 0;
    if (ctl_->sync_owner.compare_exchange_strong(owner, me, std::memory_order_acq_rel)) return true;
    // A leader killed holding the role would hold it for ever: durable_offset
    // (and every durable ack) would stay put. Its successor takes over.
    return !owner_live(owner) &&
           ctl_->sync_owner.compare_exchange_strong(owner, me, std::memory_order_acq_rel);
}

uint32_t Topic::end_lead() {
    ctl_->sync_owner.store(0, std::memory_order_release);
    const uint32_t seq = ctl_->sync_seq.fetch_add(1, std::memory_order_seq_cst) + 1;
    if (ctl_->sync_waiters.load(std::memory_order_seq_cst))
        futex_wake(word(ctl_->sync_seq), INT_MAX);
    return seq;
}

Errc Topic::sync_round() {
    if (!claim_lead()) return Errc::ok;
    Errc e = lead_sync();
    end_lead();
    return e;
}

Errc Topic::sync_to(uint64_t end, bool own_fsync) {
    for (;;) {
        if (ctl_->sync_failed.load(std::memory_order_acquire))
            return fail(Errc::io,
                        "topic %s: an fdatasync failed; the broker acknowledges no more writes",
                        name_.c_str());
        if (!own_fsync && ctl_->durable_offset.load(std::memory_order_acquire) >= end)
            return Errc::ok;
        if (claim_lead()) {
            const uint64_t before = ctl_->durable_offset.load(std::memory_order_acquire);
            Errc e = lead_sync();
            const uint32_t seq = end_lead();
            if (e != Errc::ok) return e;
            if (own_fsync) return Errc::ok;  // our record was committed before the walk
            // No progress: an uncommitted record stops the walk (a live
            // writer's, which will lead itself once committed, or a dead
            // one's, padded after hole_timeout_ns). Wait for the next round
            // rather than fdatasync in a loop.
            if (ctl_->durable_offset.load(std::memory_order_acquire) == before) {
                ctl_->sync_waiters.fetch_add(1, std::memory_order_seq_cst);
                if (ctl_->durable_offset.load(std::memory_order_seq_cst) < end)
                    futex_wait(word(ctl_->sync_seq), seq, monotonic_ns() + 1'000'000);
                ctl_->sync_waiters.fetch_sub(1, std::memory_order_relaxed);
            }
            continue;
        }
        if (own_fsync) {
            // ALWAYS: one fdatasync of our own; the frontier moves with the next leader.
            std::shared_ptr<Segment> seg;
            if (Errc e = active(&seg); e != Errc::ok) return e;
            if (io_fdatasync(seg->fd(), seg->path()) != 0) {
                const int err = errno;
                ctl_->sync_failed.store(1, std::memory_order_seq_cst);
                return fail_errno(Errc::io, err, "fdatasync %s", seg->path().c_str());
            }
            ctx_->stats->fsyncs.fetch_add(1, std::memory_order_relaxed);
            return Errc::ok;
        }
        // A leader is syncing: wait for its round (it may not cover us: loop).
        const uint64_t now = monotonic_ns();
        const uint32_t seq = ctl_->sync_seq.load(std::memory_order_seq_cst);
        ctl_->sync_waiters.fetch_add(1, std::memory_order_seq_cst);
        if (ctl_->sync_owner.load(std::memory_order_seq_cst) != 0 &&
            ctl_->durable_offset.load(std::memory_order_seq_cst) < end)
            futex_wait(word(ctl_->sync_seq), seq, now + 10'000'000);
        ctl_->sync_waiters.fetch_sub(1, std::memory_order_relaxed);
    }
}

// ---- retention ---------------------------------------------------------------------

Errc Topic::min_durable_ack(uint64_t *min_next, bool *any) const {
    *any = false;
    *min_next = UINT64_MAX;
    const std::string subs = ctx_->dir + "/subs";
    DIR *d = ::opendir(subs.c_str());
    if (!d) return Errc::ok;  // no durable subscriber yet
    while (dirent *e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        uint64_t next = 0;
        const std::string path = subs + "/" + e->d_name + "/" + name_ + ".ack";
        Errc r = load_ack(path, &next);
        if (r == Errc::noent) continue;
        // An unreadable ack file counts as acknowledging nothing: retention
        // never deletes on the strength of data it could not check.
        if (r != Errc::ok) next = 0;
        *any = true;
        *min_next = std::min(*min_next, next);
    }
    ::closedir(d);
    return Errc::ok;
}

Errc Topic::enforce_retention(uint64_t extra_bytes) {
    const Options &o = ctx_->opts;
    if (!o.retention_bytes && !o.retention_age_ns) return Errc::ok;
    const uint64_t deadline = deadline_after(o.block_timeout_ns);
    for (;;) {
        std::vector<uint64_t> b;
        if (Errc e = bases(&b); e != Errc::ok) return e;
        uint64_t total = extra_bytes;
        std::vector<uint64_t> sizes;
        for (uint64_t base : b) {
            struct stat st;
            uint64_t sz = ::stat((dir_ + "/" + Segment::file_name(base)).c_str(), &st) == 0
                              ? static_cast<uint64_t>(st.st_size)
                              : 0;
            sizes.push_back(sz);
            total += sz;
        }
        bool blocked = false;
        // Never the newest segment: it is (or was just sealed as) the active one.
        for (size_t i = 0; i + 1 < b.size(); ++i) {
            const bool over = o.retention_bytes && total > o.retention_bytes;
            bool old = false;
            if (!over && o.retention_age_ns) {
                std::shared_ptr<Segment> s;
                if (Segment::open(dir_, b[i], &s) == Errc::ok) {
                    const int64_t newest = s->header().newest_ns.load(std::memory_order_relaxed);
                    old = newest > 0 && newest < realtime_ns() - o.retention_age_ns;
                }
            }
            if (!over && !old) break;
            uint64_t min_next;
            bool any;
            min_durable_ack(&min_next, &any);
            if (any && min_next < b[i + 1] && o.overflow != Overflow::drop) {
                if (!over) break;  // age alone never overrides a durable subscriber
                blocked = true;
                break;
            }
            if (io_unlink(dir_ + "/" + Segment::file_name(b[i])) != 0 && errno != ENOENT)
                return fail_errno(Errc::io, errno, "delete segment %s/%s", dir_.c_str(),
                                  Segment::file_name(b[i]).c_str());
            {
                std::lock_guard lock(segs_mu_);
                segs_.erase(b[i]);  // mappings held by readers stay valid
            }
            ctl_->segments_deleted.fetch_add(1, std::memory_order_relaxed);
            ctx_->stats->segments_deleted.fetch_add(1, std::memory_order_relaxed);
            total -= sizes[i];
        }
        if (!blocked) return Errc::ok;
        if (o.overflow == Overflow::fail)
            return fail(Errc::full,
                        "topic %s: retention limit reached and a durable subscriber has not "
                        "acknowledged the oldest segment (overflow policy FAIL)",
                        name_.c_str());
        if (monotonic_ns() >= deadline)
            return fail(Errc::timedout,
                        "topic %s: retention limit reached; a durable subscriber did not "
                        "acknowledge the oldest segment in time (overflow policy BLOCK)",
                        name_.c_str());
        sleep_ns(5'000'000);
    }
}

}  // namespace cq::broker
