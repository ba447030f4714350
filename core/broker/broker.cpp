#include "core/broker/broker.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "core/broker/ack.hpp"
#include "core/broker/io.hpp"
#include "core/broker/names.hpp"
#include "core/shm/ofd_lock.hpp"
#include "core/util/clock.hpp"
#include "core/util/crc32c.hpp"

namespace cq::broker {
namespace {

uint32_t ctl_checksum(const BrokerControl &c) {
    return crc32c(0, &c, kBrokerChecksummed);
}

// Blocking OFD write lock on one byte (the open lock serialises broker_open's
// first-opener check and recovery against other openers).
bool lock_byte_wait(int fd, off_t off, bool lock) {
    struct flock fl {};
    fl.l_type = lock ? F_WRLCK : F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = off;
    fl.l_len = 1;
    int r;
    do r = ::fcntl(fd, lock ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
    while (r != 0 && errno == EINTR);
    return r == 0;
}

constexpr off_t kOpenLockByte = 0;

void read_boot_id(char (&out)[40]) {
    int fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;  // unknown: all zeros, which counts as another boot
    ssize_t r = ::read(fd, out, sizeof out - 1);
    ::close(fd);
    if (r <= 0) std::memset(out, 0, sizeof out);
}

// End of the last 8-byte word of the record area that is not zero (the
// header's end if none): a backward scan, word by word.
uint64_t last_nonzero_end(const Segment &seg) {
    const auto *w = reinterpret_cast<const uint64_t *>(seg.bytes());
    for (uint64_t i = seg.size() / 8; i > kSegmentHeaderSize / 8; --i)
        if (w[i - 1] != 0) return i * 8;
    return kSegmentHeaderSize;
}

}  // namespace

Errc Broker::open(const std::string &dir, const Options &opts, std::unique_ptr<Broker> *out) {
    std::unique_ptr<Broker> b(new Broker);
    b->dir_ = dir;
    while (b->dir_.size() > 1 && b->dir_.back() == '/') b->dir_.pop_back();
    if (io_mkdir(b->dir_, 0700) != 0)
        return fail_errno(errc_from_errno(errno), errno, "create broker directory %s", dir.c_str());
    if (io_mkdir(b->dir_ + "/topics", 0700) != 0 || io_mkdir(b->dir_ + "/subs", 0700) != 0)
        return fail_errno(errc_from_errno(errno), errno, "create %s/topics", dir.c_str());
    if (Errc e = b->open_control(); e != Errc::ok) return e;
    b->ctx_.dir = b->dir_;
    b->ctx_.opts = opts;
    b->ctx_.bctl = b->ctl_;
    b->ctx_.stats = &b->stats_;
    Broker *self = b.get();
    b->ctx_.live = [self](uint32_t slot, uint64_t gen) { return self->live(slot, gen); };

    // Openers one at a time: the first handle of the directory (no other is
    // alive) repairs the topics' tails before anybody publishes.
    if (!lock_byte_wait(b->ctl_fd_.get(), kOpenLockByte, true))
        return fail_errno(Errc::io, errno, "lock %s/broker.ctl", dir.c_str());
    Errc e = b->claim_slot();
    bool alone = true;
    for (uint32_t i = 0; e == Errc::ok && i < kMaxHandles; ++i)
        if (static_cast<int>(i) != b->slot_ &&
            ofd_probe(b->ctl_fd_.get(), kSlotLockBase + i) == LockProbe::held)
            alone = false;
    if (e == Errc::ok && alone) {
        std::vector<std::string> names;
        e = b->topic_names(&names);
        // Leftovers of killed creators (nobody else is alive to be writing one).
        remove_stale_temps(b->dir_);
        for (const std::string &n : names) remove_stale_temps(b->dir_ + "/topics/" + n);
        char boot[40] = {0};
        read_boot_id(boot);
        const bool same_boot =
            boot[0] != 0 && std::memcmp(boot, b->ctl_->boot_id, sizeof boot) == 0;
        for (size_t i = 0; e == Errc::ok && i < names.size(); ++i)
            e = b->recover_topic(names[i], !same_boot);
        if (e == Errc::ok) std::memcpy(b->ctl_->boot_id, boot, sizeof boot);
    }
    lock_byte_wait(b->ctl_fd_.get(), kOpenLockByte, false);
    if (e != Errc::ok) return e;
    if (opts.fsync == FsyncPolicy::interval)
        b->interval_ = std::thread([self] { self->interval_loop(); });
    *out = std::move(b);
    return Errc::ok;
}

Errc Broker::open_control() {
    const std::string path = dir_ + "/broker.ctl";
    for (int attempt = 0; attempt < 2; ++attempt) {
        ctl_fd_ = Fd(io_open(path, O_RDWR, 0));
        if (ctl_fd_.valid()) break;
        if (errno != ENOENT)
            return fail_errno(errc_from_errno(errno), errno, "open %s", path.c_str());
        auto c = std::make_unique<BrokerControl>();
        std::memset(static_cast<void *>(c.get()), 0, sizeof(BrokerControl));
        c->magic = kBrokerMagic;
        c->version = kBrokerVersion;
        c->size = sizeof(BrokerControl);
        c->max_slots = kMaxHandles;
        c->checksum = ctl_checksum(*c);
        if (Errc e =
                write_file_whole(dir_, path, c.get(), sizeof(BrokerControl), 0600, false, false);
            e != Errc::ok)
            return e;
    }
    if (!ctl_fd_.valid()) return fail(Errc::io, "open %s: it keeps disappearing", path.c_str());
    struct stat st;
    if (::fstat(ctl_fd_.get(), &st) != 0)
        return fail_errno(Errc::io, errno, "fstat %s", path.c_str());
    if (static_cast<uint64_t>(st.st_size) != sizeof(BrokerControl))
        return fail(Errc::corrupt, "%s: size %lld, expected %zu (not a broker of this version?)",
                    path.c_str(), static_cast<long long>(st.st_size), sizeof(BrokerControl));
    void *p = ::mmap(nullptr, sizeof(BrokerControl), PROT_READ | PROT_WRITE, MAP_SHARED,
                     ctl_fd_.get(), 0);
    if (p == MAP_FAILED) return fail_errno(errc_from_errno(errno), errno, "mmap %s", path.c_str());
    ctl_map_ = Mapping(p, sizeof(BrokerControl));
    auto *c = static_cast<BrokerControl *>(p);
    if (c->magic != kBrokerMagic) return fail(Errc::corrupt, "%s: bad magic", path.c_str());
    if (c->version != kBrokerVersion)
        return fail(Errc::version, "%s: version %u, this library reads %u", path.c_str(),
                    c->version, kBrokerVersion);
    if (c->size != sizeof(BrokerControl) || c->max_slots != kMaxHandles ||
        ctl_checksum(*c) != c->checksum)
        return fail(Errc::corrupt, "%s: header checksum or sizes do not match", path.c_str());
    ctl_ = c;
    return Errc::ok;
}

Errc Broker::claim_slot() {
    for (uint32_t i = 0; i < kMaxHandles; ++i) {
        if (!ofd_try_lock(ctl_fd_.get(), kSlotLockBase + i)) continue;
        slot_ = static_cast<int>(i);
        ctx_.slot = i;
        ctx_.gen = ctl_->slot_gen[i].fetch_add(1, std::memory_order_seq_cst) + 1;
        ctl_->slot_pid[i].store(static_cast<int32_t>(::getpid()), std::memory_order_relaxed);
        return Errc::ok;
    }
    return fail(Errc::busy, "broker %s: all %u handle slots are in use", dir_.c_str(), kMaxHandles);
}

bool Broker::live(uint32_t slot, uint64_t gen) const {
    if (slot >= kMaxHandles) return false;
    if (static_cast<int>(slot) == slot_) return gen == ctx_.gen;
    if (ctl_->slot_gen[slot].load(std::memory_order_seq_cst) != gen) return false;
    // An error probing counts as alive: never skip a record on a guess.
    return ofd_probe(ctl_fd_.get(), kSlotLockBase + slot) != LockProbe::free;
}

Broker::~Broker() {
    close();
}

Errc Broker::close() {
    Errc result = Errc::ok;
    if (interval_.joinable()) {
        {
            std::lock_guard lock(interval_mu_);
            stopping_ = true;
        }
        interval_cv_.notify_all();
        interval_.join();
    }
    if (ctx_.opts.fsync != FsyncPolicy::none) {
        std::lock_guard lock(topics_mu_);
        for (auto &[name, t] : topics_)
            if (Errc e = t->sync_round(); e != Errc::ok) result = e;
    }
    {
        std::lock_guard lock(topics_mu_);
        topics_.clear();
    }
    if (ctl_ && slot_ >= 0) {
        ctl_->slot_pid[slot_].store(0, std::memory_order_relaxed);
        ofd_unlock(ctl_fd_.get(), kSlotLockBase + static_cast<uint64_t>(slot_));
        slot_ = -1;
    }
    return result;
}

void Broker::interval_loop() {
    std::unique_lock lock(interval_mu_);
    while (!stopping_) {
        interval_cv_.wait_for(lock, std::chrono::milliseconds(ctx_.opts.fsync_interval_ms));
        if (stopping_) break;
        lock.unlock();
        std::vector<std::shared_ptr<Topic>> ts;
        {
            std::lock_guard tl(topics_mu_);
            for (auto &[n, t] : topics_) ts.push_back(t);
        }
        for (auto &t : ts) t->sync_round();  // a failure is sticky in the topic
        lock.lock();
    }
}

Errc Broker::topic(std::string_view name_view, bool create, std::shared_ptr<Topic> *out) {
    std::lock_guard lock(topics_mu_);
    if (auto it = topics_.find(name_view); it != topics_.end()) {
        *out = it->second;
        return Errc::ok;
    }
    const std::string name(name_view);  // a miss: opening a topic
    struct stat st;
    const std::string dir = dir_ + "/topics/" + name;
    if (::stat((dir + "/CORRUPT").c_str(), &st) == 0) {
        char why[512] = {0};
        int fd = ::open((dir + "/CORRUPT").c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t r = ::read(fd, why, sizeof why - 1);
            (void)r;
            ::close(fd);
        }
        return fail(Errc::corrupt, "topic %s was refused: %s (remove %s/CORRUPT after repair)",
                    name.c_str(), why, dir.c_str());
    }
    std::shared_ptr<Topic> t;
    if (Errc e = Topic::open(&ctx_, name, create, &t); e != Errc::ok) return e;
    topics_[name] = t;
    *out = std::move(t);
    return Errc::ok;
}

Errc Broker::publish(std::string_view name, const Message *msgs, size_t n, uint64_t *first,
                     size_t *done) {
    *done = 0;
    std::shared_ptr<Topic> t;
    Errc e = topic(name, true, &t);
    if (e == Errc::ok) e = t->publish(msgs, n, first, done);
    if (e != Errc::ok) stats_.publish_failures.fetch_add(1, std::memory_order_relaxed);
    return e;
}

Errc Broker::topic_names(std::vector<std::string> *out) const {
    out->clear();
    const std::string dir = dir_ + "/topics";
    DIR *d = ::opendir(dir.c_str());
    if (!d) return fail_errno(errc_from_errno(errno), errno, "opendir %s", dir.c_str());
    while (dirent *e = ::readdir(d)) {
        std::string n = e->d_name;
        struct stat st;
        if (valid_topic(n) && ::stat((dir + "/" + n + "/control").c_str(), &st) == 0)
            out->push_back(n);
    }
    ::closedir(d);
    std::sort(out->begin(), out->end());
    return Errc::ok;
}

bool Broker::any_sync_failed() {
    std::lock_guard lock(topics_mu_);
    for (auto &[n, t] : topics_)
        if (t->ctl().sync_failed.load(std::memory_order_acquire)) return true;
    return false;
}

// First opener of the directory: nobody else can be writing. Walk the active
// segment of the topic: dead writers' holes become padding; a torn tail (no
// valid record after the first bad one) is cut off and the tail reset; a bad
// committed record followed by valid ones is corruption: the topic is refused.
Errc Broker::recover_topic(const std::string &name, bool whole) {
    std::shared_ptr<Topic> t;
    if (Errc e = topic(name, false, &t); e != Errc::ok) return e == Errc::corrupt ? Errc::ok : e;
    std::shared_ptr<Segment> seg;
    // A segment that fails validation is refused on every use; it does not
    // stop the other topics from opening.
    if (Errc e = t->active(&seg); e != Errc::ok)
        return e == Errc::corrupt || e == Errc::version ? Errc::ok : e;
    SegmentHeader &h = seg->header();
    uint64_t pos = kSegmentHeaderSize, count = 0, data_end = 0;
    while (pos + sizeof(uint32_t) <= seg->size()) {
        RecordView v = seg->read_at(pos);
        if (v.kind == RecordView::record) {
            if (v.offset < seg->base() + count || v.offset - seg->base() >= kMaxCount) {
                v.kind = RecordView::bad;
                v.why = "record offset out of sequence";
            } else {
                count = v.offset - seg->base() + 1;
                pos += v.size;
                continue;
            }
        }
        if (v.kind == RecordView::padding) {
            pos += v.size;
            continue;
        }
        // Empty or bad: is there a valid record further on (before the
        // last non-zero byte: nothing can start in the zeros after it)?
        if (!data_end)
            data_end =
                whole ? last_nonzero_end(*seg)
                      : std::max(pos, std::min(seg->size(),
                                               pos_of(h.tail.load(std::memory_order_acquire))));
        uint64_t next = 0;
        for (uint64_t q = pos + 8; q + sizeof(RecordHeader) <= data_end; q += 8) {
            RecordView w = seg->read_at(q);
            if (w.kind == RecordView::record && w.offset >= seg->base() + count) {
                next = q;
                break;
            }
        }
        if (next && v.kind == RecordView::empty) {
            seg->pad(pos, next - pos);  // a dead writer's hole
            t->ctl().holes_skipped.fetch_add(1, std::memory_order_relaxed);
            pos = next;
            continue;
        }
        if (next) {
            char why[512];
            std::snprintf(why, sizeof why,
                          "segment %s: %s at byte %" PRIu64 " with valid records after it",
                          seg->path().c_str(), v.why, pos);
            int fd = io_open(t->dir() + "/CORRUPT", O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd >= 0) {
                io_write_all(fd, why, std::strlen(why));
                ::close(fd);
            }
            {
                std::lock_guard lock(topics_mu_);
                topics_.erase(name);
            }
            // Refused, not fatal for the other topics: report it on use.
            return Errc::ok;
        }
        // A torn or empty tail: zero what a crash may have left past it (only
        // pages that are not zero, to not dirty a whole fresh segment).
        if (data_end > pos) std::memset(seg->bytes() + pos, 0, data_end - pos);
        break;
    }
    h.tail.store(pack(count, std::min(pos, seg->size())), std::memory_order_seq_cst);
    // A seal whose next segment never appeared: the roll died; unseal (the
    // tail now says where appends go). A roll that created the next one but
    // did not advance: finish it.
    if (const uint64_t sealed = h.sealed.load(std::memory_order_acquire)) {
        std::shared_ptr<Segment> next;
        if (t->segment(seg->base() + count_of(sealed - 1), &next) == Errc::ok) return t->roll(*seg);
        h.sealed.store(0, std::memory_order_seq_cst);
    }
    return Errc::ok;
}

std::string Broker::metrics() {
    std::string out;
    char line[768];
    auto add = [&](const char *fmt, auto... args) {
        std::snprintf(line, sizeof line, fmt, args...);
        out += line;
    };
    add("# HELP cqueue_broker_published_total Records published through this handle.\n"
        "# TYPE cqueue_broker_published_total counter\ncqueue_broker_published_total %" PRIu64 "\n",
        stats_.published.load());
    add("# HELP cqueue_broker_published_bytes_total Body bytes published through this handle.\n"
        "# TYPE cqueue_broker_published_bytes_total counter\ncqueue_broker_published_bytes_total "
        "%" PRIu64 "\n",
        stats_.published_bytes.load());
    add("# HELP cqueue_broker_delivered_total Records delivered to this handle's subscriptions.\n"
        "# TYPE cqueue_broker_delivered_total counter\ncqueue_broker_delivered_total %" PRIu64 "\n",
        stats_.delivered.load());
    add("# HELP cqueue_broker_fsyncs_total fdatasync calls by this handle.\n"
        "# TYPE cqueue_broker_fsyncs_total counter\ncqueue_broker_fsyncs_total %" PRIu64 "\n",
        stats_.fsyncs.load());
    add("# HELP cqueue_broker_publish_failures_total Publishes that returned an error.\n"
        "# TYPE cqueue_broker_publish_failures_total counter\ncqueue_broker_publish_failures_total "
        "%" PRIu64 "\n",
        stats_.publish_failures.load());
    std::vector<std::string> names;
    topic_names(&names);
    std::string end, bytes, segs, holes, durable, failed;
    std::string lag, acked;
    for (const std::string &n : names) {
        std::shared_ptr<Topic> t;
        if (topic(n, false, &t) != Errc::ok) continue;
        std::vector<uint64_t> b;
        t->bases(&b);
        uint64_t sz = 0;
        for (uint64_t base : b) {
            struct stat st;
            if (::stat((t->dir() + "/" + Segment::file_name(base)).c_str(), &st) == 0)
                sz += st.st_size;
        }
        const uint64_t e = t->end_offset();
        auto row = [&](std::string &s, const char *metric, uint64_t v) {
            std::snprintf(line, sizeof line, "%s{topic=\"%s\"} %" PRIu64 "\n", metric, n.c_str(),
                          v);
            s += line;
        };
        row(end, "cqueue_topic_end_offset", e);
        row(bytes, "cqueue_topic_bytes", sz);
        row(segs, "cqueue_topic_segments", b.size());
        row(holes, "cqueue_topic_holes_skipped_total", t->ctl().holes_skipped.load());
        row(durable, "cqueue_topic_durable_offset", t->ctl().durable_offset.load());
        row(failed, "cqueue_topic_sync_failed", t->ctl().sync_failed.load());
        // Durable subscribers of this topic.
        DIR *d = ::opendir((dir_ + "/subs").c_str());
        while (dirent *de = d ? ::readdir(d) : nullptr) {
            if (de->d_name[0] == '.') continue;
            uint64_t next;
            if (load_ack(dir_ + "/subs/" + de->d_name + "/" + n + ".ack", &next) != Errc::ok)
                continue;
            std::snprintf(line, sizeof line,
                          "cqueue_subscriber_acked_offset{subscriber=\"%s\",topic=\"%s\"} %" PRIu64
                          "\n",
                          de->d_name, n.c_str(), next);
            acked += line;
            std::snprintf(line, sizeof line,
                          "cqueue_subscriber_lag_records{subscriber=\"%s\",topic=\"%s\"} %" PRIu64
                          "\n",
                          de->d_name, n.c_str(), e > next ? e - next : 0);
            lag += line;
        }
        if (d) ::closedir(d);
    }
    auto block = [&](const char *metric, const char *type, const char *help,
                     const std::string &rows) {
        add("# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
        out += rows;
    };
    block("cqueue_topic_end_offset", "gauge", "Next offset to be appended.", end);
    block("cqueue_topic_bytes", "gauge", "Bytes of the topic's segment files.", bytes);
    block("cqueue_topic_segments", "gauge", "Segment files of the topic.", segs);
    block("cqueue_topic_holes_skipped_total", "counter",
          "Dead publishers' records skipped by readers.", holes);
    block("cqueue_topic_durable_offset", "gauge",
          "Records below it were fdatasynced by a GROUP, ALWAYS or INTERVAL handle (0: never).",
          durable);
    block("cqueue_topic_sync_failed", "gauge", "1 once an fdatasync of the topic failed.", failed);
    block("cqueue_subscriber_acked_offset", "gauge",
          "Next offset after the durable subscriber's last ack.", acked);
    block("cqueue_subscriber_lag_records", "gauge", "Records appended but not acknowledged.", lag);
    return out;
}

}  // namespace cq::broker
