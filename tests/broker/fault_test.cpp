// The broker's core with faults injected through its file layer
// (core/broker/io.hpp) and dead publishers made by hand: a failed fdatasync
// stops all further acknowledgements; a full disk fails the roll without
// losing what was stored; a crash that drops unsynced writes, or tears the
// last one, loses no record whose GROUP publish returned; a publisher that
// died between reserving and committing is skipped after the hole timeout.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/broker/broker.hpp"
#include "core/broker/io.hpp"
#include "tests/util/test_util.hpp"

namespace bk = cq::broker;
using cq::Errc;

namespace {

bk::Options opts(bk::FsyncPolicy p = bk::FsyncPolicy::none) {
    bk::Options o;
    o.fsync = p;
    o.segment_size = 64 * 1024;
    o.hole_timeout_ns = 50'000'000;
    o.block_timeout_ns = 200'000'000;
    return o;
}

std::unique_ptr<bk::Broker> open(const std::string &dir, bk::Options o) {
    std::unique_ptr<bk::Broker> b;
    EXPECT_EQ(bk::Broker::open(dir, o, &b), Errc::ok) << cq::last_error();
    return b;
}

Errc publish(bk::Broker &b, const std::string &topic, const std::string &data,
             uint64_t *off = nullptr) {
    bk::Message m{data.data(), data.size()};
    size_t done;
    uint64_t o;
    return b.publish(topic, &m, 1, off ? off : &o, &done);
}

std::vector<std::pair<uint64_t, std::string>> read_all(bk::Broker &b, const std::string &pattern,
                                                       int64_t wait_ns = 20'000'000) {
    std::unique_ptr<bk::Subscription> s;
    EXPECT_EQ(bk::Subscription::create(&b, pattern, nullptr, false, true, {}, &s), Errc::ok)
        << cq::last_error();
    std::vector<std::pair<uint64_t, std::string>> out;
    if (!s) return out;
    for (;;) {
        bk::Delivered d;
        size_t got;
        Errc e = s->poll(&d, 1, wait_ns, &got);
        if (e == Errc::timedout) break;
        EXPECT_EQ(e, Errc::ok) << cq::last_error();
        if (e != Errc::ok) break;
        out.emplace_back(d.offset, std::string(static_cast<const char *>(d.data), d.len));
    }
    return out;
}

struct Faults {
    bk::IoFaults f;
    explicit Faults(bk::IoOp op, uint64_t at, int err, bool sticky = false) {
        f.mask = 1u << static_cast<unsigned>(op);
        f.fail_at = at;
        f.error = err;
        f.sticky = sticky;
        bk::io_set_faults(&f);
    }
    ~Faults() { bk::io_set_faults(nullptr); }
};

TEST(BrokerFaults, FailedFdatasyncStopsAcknowledgingWrites) {
    for (bk::FsyncPolicy p :
         {bk::FsyncPolicy::group, bk::FsyncPolicy::always, bk::FsyncPolicy::interval}) {
        SCOPED_TRACE(static_cast<int>(p));
        cqtest::TempDir d;
        bk::Options o = opts(p);
        o.fsync_interval_ms = 1;
        auto b = open(d.path(), o);
        ASSERT_EQ(publish(*b, "t", "before"), Errc::ok);
        {
            Faults f(bk::IoOp::fdatasync, 1, EIO);
            if (p == bk::FsyncPolicy::interval) {
                // The background sync fails, before or after this publish
                // (then it already reports the failure).
                const Errc r = publish(*b, "t", "during");
                EXPECT_TRUE(r == Errc::ok || r == Errc::io) << static_cast<int>(r);
                cqtest::wait_until([&] { return b->any_sync_failed(); }, 2000);
            } else {
                EXPECT_EQ(publish(*b, "t", "during"), Errc::io);
            }
        }
        // The fault is gone, but the kernel may have dropped the dirty pages:
        // retrying and claiming success would be a lie.
        EXPECT_EQ(publish(*b, "t", "after"), Errc::io);
        EXPECT_NE(std::strstr(cq::last_error(), "fdatasync"), nullptr) << cq::last_error();
        EXPECT_TRUE(b->any_sync_failed());
        // Another handle (another process) sees the same sticky state.
        auto other = open(d.path(), opts(bk::FsyncPolicy::none));
        EXPECT_EQ(publish(*other, "t", "x"), Errc::io);
    }
}

TEST(BrokerFaults, NoSpaceForTheNextSegmentLosesNothingStored) {
    cqtest::TempDir d;
    auto b = open(d.path(), opts());
    std::string rec(1000, 'a');
    uint64_t off;
    int stored = 0;
    {
        Faults f(bk::IoOp::ftruncate, 2, ENOSPC,
                 true);  // the first segment is created, the next is not
        Errc e;
        while ((e = publish(*b, "t", rec, &off)) == Errc::ok) ++stored;
        EXPECT_EQ(e, Errc::io);
        EXPECT_NE(std::strstr(cq::last_error(), "No space"), nullptr) << cq::last_error();
    }
    EXPECT_GT(stored, 50);
    // Space again: publishing goes on, and everything stored is there.
    ASSERT_EQ(publish(*b, "t", "after", &off), Errc::ok) << cq::last_error();
    auto all = read_all(*b, "t");
    ASSERT_EQ(all.size(), size_t(stored) + 1);
    for (int i = 0; i < stored; ++i) EXPECT_EQ(all[i].second, rec);
    EXPECT_EQ(all.back().second, "after");
}

// A publisher that reserved and died before committing: make one by hand in
// a second handle, then close that handle (its slot's lock goes away, as at
// a process's death). `said_where`: it stored its reservation in its slot;
// `silent`: it died before that; `batch_tail`: it reserved two records,
// committed the first and died writing the second, whose timestamp reads, as
// a record word, like padding of 4096 bytes (the hole is the rest of its
// reservation, known from its slot, never guessed from those bytes).
enum class Hole { said_where, silent, batch_tail };

void dead_writer_hole(const std::string &dir, const std::string &topic, Hole kind) {
    auto dead = open(dir, opts());
    ASSERT_TRUE(dead);
    std::shared_ptr<bk::Topic> t;
    ASSERT_EQ(dead->topic(topic, true, &t), Errc::ok);
    ASSERT_EQ(publish(*dead, topic, "from the doomed handle"), Errc::ok);  // attaches its slot
    std::shared_ptr<bk::Segment> seg;
    ASSERT_EQ(t->active(&seg), Errc::ok);
    bk::WriterSlot &slot = t->ctl().slots[dead->ctx().slot];
    const uint64_t sz = bk::record_size(100), n = kind == Hole::batch_tail ? 2 : 1;
    slot.key.store(bk::kReserving);
    const uint64_t r = seg->header().tail.fetch_add(bk::pack(n, n * sz));
    if (kind != Hole::silent) {
        slot.size.store(bk::pack(bk::count_of(r), n * sz));
        slot.key.store(uint64_t{seg->index()} << bk::kPosBits | bk::pos_of(r));
    }
    uint64_t hole = bk::pos_of(r);
    if (kind == Hole::batch_tail) {
        const std::string body(100, 'b');
        seg->write_record(hole, seg->base() + bk::count_of(r), 0, body.data(), 100);
        hole += sz;
        auto *h = reinterpret_cast<bk::RecordHeader *>(seg->bytes() + hole);
        h->offset = seg->base() + bk::count_of(r) + 1;
        h->timestamp_ns = int64_t{0x80000200};  // state "padding", 512 x 8 bytes
        h->len = 100;
        std::memset(seg->bytes() + hole + sizeof(bk::RecordHeader), 0x5A, 60);  // no commit
    } else {
        std::memset(seg->bytes() + hole + 8, 0x5A, 60);  // a half-written record, no commit
    }
    seg.reset();
    t.reset();
    ASSERT_EQ(dead->close(), Errc::ok);
}

TEST(BrokerFaults, DeadPublishersHoleIsSkippedAfterTheTimeout) {
    struct Case {
        Hole hole;
        bool reattached;  // the dead handle's slot goes to the next handle opened
    };
    for (Case c : {Case{Hole::said_where, false}, Case{Hole::silent, false},
                   Case{Hole::batch_tail, false}, Case{Hole::batch_tail, true}}) {
        SCOPED_TRACE(static_cast<int>(c.hole) * 2 + c.reattached);
        cqtest::TempDir d;
        auto live = open(d.path(), opts());
        ASSERT_EQ(publish(*live, "h", "first"), Errc::ok);
        dead_writer_hole(d.path(), "h", c.hole);
        std::vector<std::string> want = {"first", "from the doomed handle"};
        if (c.hole == Hole::batch_tail) want.push_back(std::string(100, 'b'));
        std::unique_ptr<bk::Broker> next;
        if (c.reattached) {
            // Its first publish to the topic takes the slot over, and must
            // settle the dead writer's reservation first.
            next = open(d.path(), opts());
            ASSERT_EQ(publish(*next, "h", "from its successor"), Errc::ok);
            want.push_back("from its successor");
        }
        ASSERT_EQ(publish(*live, "h", "after the hole"), Errc::ok);
        want.push_back("after the hole");
        auto all = read_all(*live, "h", 200'000'000);
        ASSERT_EQ(all.size(), want.size());
        for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(all[i].second, want[i]) << i;
        EXPECT_EQ(all.back().first, want.size());  // one offset, the dead record's, skipped
        std::shared_ptr<bk::Topic> t;
        ASSERT_EQ(live->topic("h", false, &t), Errc::ok);
        EXPECT_EQ(t->ctl().holes_skipped.load(), 1u);
    }
}

// Publishes from another thread and waits for it at most 10 s. A publish
// that has not returned by then ends the test binary (the thread cannot be
// joined); *why gets the publishing thread's cq::last_error().
Errc publish_within_10s(bk::Broker &b, const std::string &topic, const std::string &data,
                        std::string *why) {
    std::atomic<int> result{-1000};
    std::thread pub([&] {
        const Errc e = publish(b, topic, data);
        *why = cq::last_error();
        result = static_cast<int>(e);
    });
    if (!cqtest::wait_until([&] { return result != -1000; }, 10'000)) {
        ADD_FAILURE() << "publish to " << topic << " did not return in 10 s";
        std::fflush(stdout);
        std::_Exit(1);
    }
    pub.join();
    return static_cast<Errc>(result.load());
}

// Nobody reads the topic, so no reader pads the dead writer's hole: the
// group commit's leader must, or every later GROUP publish waits for ever.
TEST(BrokerFaults, GroupPublishBehindADeadPublishersHoleReturnsWithoutReaders) {
    for (bool said_where : {true, false}) {
        SCOPED_TRACE(said_where);
        cqtest::TempDir d;
        auto live = open(d.path(), opts(bk::FsyncPolicy::group));
        ASSERT_EQ(publish(*live, "h", "first"), Errc::ok);
        dead_writer_hole(d.path(), "h", said_where ? Hole::said_where : Hole::silent);
        std::string why;
        EXPECT_EQ(publish_within_10s(*live, "h", "after the hole", &why), Errc::ok) << why;
        std::shared_ptr<bk::Topic> t;
        ASSERT_EQ(live->topic("h", false, &t), Errc::ok);
        EXPECT_EQ(t->ctl().holes_skipped.load(), 1u);
        EXPECT_EQ(t->ctl().durable_offset.load(), 4u);  // first, doomed, the hole, after
    }
}

// The durable position lives in the shared control file: a leader killed
// between its stores (before they were ordered), or a peer's stray write,
// can leave it inside a record. The leader must find its way back to the
// records rather than stop there for ever (or pad inside a record).
TEST(BrokerFaults, DurablePositionInsideARecordIsWalkedAgainNotTrusted) {
    for (uint64_t bad_pos :
         {bk::kSegmentHeaderSize + 8, bk::kSegmentHeaderSize + 40, uint64_t{1} << 39}) {
        SCOPED_TRACE(bad_pos);
        cqtest::TempDir d;
        auto live = open(d.path(), opts(bk::FsyncPolicy::group));
        std::string zeros(64, '\0');  // a body of zeros: reads as "not committed"
        ASSERT_EQ(publish(*live, "t", zeros), Errc::ok);
        ASSERT_EQ(publish(*live, "t", "two"), Errc::ok);
        std::shared_ptr<bk::Topic> t;
        ASSERT_EQ(live->topic("t", false, &t), Errc::ok);
        t->ctl().durable_pos.store(bad_pos);
        std::string why;
        EXPECT_EQ(publish_within_10s(*live, "t", "three", &why), Errc::ok) << why;
        EXPECT_EQ(t->ctl().durable_offset.load(), 3u);
        EXPECT_EQ(t->ctl().holes_skipped.load(), 0u);  // nothing padded inside a record
        auto all = read_all(*live, "t");
        ASSERT_EQ(all.size(), 3u);
        EXPECT_EQ(all[0].second, zeros);
        EXPECT_EQ(all[2].second, "three");
    }
}

// A sync leader killed holding the role: the INTERVAL thread's rounds take
// it over, or durable_offset (and every durable ack) stays put while only
// INTERVAL or NONE handles publish.
TEST(BrokerFaults, IntervalRoundsReplaceADeadSyncLeader) {
    cqtest::TempDir d;
    bk::Options o = opts(bk::FsyncPolicy::interval);
    o.fsync_interval_ms = 1;
    auto live = open(d.path(), o);
    ASSERT_EQ(publish(*live, "s", "one"), Errc::ok);
    std::shared_ptr<bk::Topic> t;
    ASSERT_EQ(live->topic("s", false, &t), Errc::ok);
    uint32_t dead_owner;
    {
        auto dead = open(d.path(), opts());
        dead_owner =
            static_cast<uint32_t>(dead->ctx().gen & 0x7FFFFF) << 9 | (dead->ctx().slot + 1);
        ASSERT_EQ(dead->close(), Errc::ok);
    }
    // Wait for the first round to finish, then plant the dead leader.
    cqtest::wait_until([&] { return t->ctl().sync_owner.load() == 0; }, 2000);
    uint32_t idle = 0;
    ASSERT_TRUE(t->ctl().sync_owner.compare_exchange_strong(idle, dead_owner));
    ASSERT_EQ(publish(*live, "s", "two"), Errc::ok);
    cqtest::wait_until([&] { return t->ctl().durable_offset.load() >= 2; }, 2000);
    EXPECT_EQ(t->ctl().durable_offset.load(), 2u);
}

// A writer alive but stalled mid-publish (SIGSTOP, say): readers wait for it
// however long it takes. Stalled between announcing and reserving, or (a
// batch) after committing the first record of its reservation.
TEST(BrokerFaults, LiveWritersReservationIsNeverSkipped) {
    for (bool batch : {false, true}) {
        SCOPED_TRACE(batch);
        cqtest::TempDir d;
        auto b = open(d.path(), opts());
        auto writer = open(d.path(), opts());
        ASSERT_EQ(publish(*writer, "h", "one"), Errc::ok);
        std::shared_ptr<bk::Topic> t;
        ASSERT_EQ(writer->topic("h", false, &t), Errc::ok);
        std::shared_ptr<bk::Segment> seg;
        ASSERT_EQ(t->active(&seg), Errc::ok);
        bk::WriterSlot &slot = t->ctl().slots[writer->ctx().slot];
        const uint64_t sz = bk::record_size(5), n = batch ? 2 : 1;
        slot.key.store(bk::kReserving);
        const uint64_t r = seg->header().tail.fetch_add(bk::pack(n, n * sz));
        uint64_t pos = bk::pos_of(r), off = seg->base() + bk::count_of(r);
        if (batch) {
            slot.size.store(bk::pack(bk::count_of(r), n * sz));
            slot.key.store(uint64_t{seg->index()} << bk::kPosBits | pos);
            seg->write_record(pos, off, 0, "two..", 5);
            pos += sz;
            ++off;
        }
        auto got = read_all(*b, "h", 300'000'000);  // well past the hole timeout
        ASSERT_EQ(got.size(), n);
        EXPECT_EQ(t->ctl().holes_skipped.load(), 0u);
        // The stalled writer finishes: the reader goes on.
        seg->write_record(pos, off, 0, "later", 5);
        slot.key.store(bk::kIdle);
        got = read_all(*b, "h");
        ASSERT_EQ(got.size(), n + 1);
        EXPECT_EQ(got.back().second, "later");
    }
}

// A test's idea of the disk: what each segment file held at its last
// successful fdatasync. crash() puts it back, dropping every unsynced write
// (tear > 0: and keeping the first `tear` bytes of what was not synced).
struct Disk {
    std::mutex mu;
    std::map<std::string, std::string> synced;
    static void on_sync(void *ctx, int fd, const char *path) {
        auto *self = static_cast<Disk *>(ctx);
        const std::string p = path;
        if (p.size() < 4 || p.compare(p.size() - 4, 4, ".seg") != 0) return;  // segments only
        struct stat st;
        if (::fstat(fd, &st) != 0) return;
        std::string data(static_cast<size_t>(st.st_size), '\0');
        if (::pread(fd, data.data(), data.size(), 0) != st.st_size) return;
        std::lock_guard lock(self->mu);
        self->synced[path] = std::move(data);
    }
    void crash(size_t tear) {
        for (auto &[path, data] : synced) {
            std::string now = cqtest::read_file(path);
            std::string put = data;
            if (tear && now.size() == data.size()) {
                size_t first = 4096;  // the records, not the header's tail word
                while (first < now.size() && now[first] == data[first]) ++first;
                for (size_t i = first; i < std::min(now.size(), first + tear); ++i) put[i] = now[i];
            }
            int fd = ::open(path.c_str(), O_WRONLY);
            ASSERT_GE(fd, 0);
            ASSERT_EQ(::pwrite(fd, put.data(), put.size(), 0), ssize_t(put.size()));
            ::close(fd);
        }
    }
};

TEST(BrokerFaults, CrashDroppingOrTearingUnsyncedWritesLosesNoGroupAcknowledgedRecord) {
    for (size_t tear : {size_t{0}, size_t{20}, size_t{45}}) {
        SCOPED_TRACE(tear);
        cqtest::TempDir d;
        Disk disk;
        bk::IoFaults hooks;
        hooks.synced = &Disk::on_sync;
        hooks.ctx = &disk;
        bk::io_set_faults(&hooks);
        {
            auto g = open(d.path(), opts(bk::FsyncPolicy::group));
            for (int i = 0; i < 20; ++i)
                ASSERT_EQ(publish(*g, "d", "acked-" + std::to_string(i)), Errc::ok);
            // Written but never synced (a NONE publisher): lost or torn by the crash.
            auto n = open(d.path(), opts(bk::FsyncPolicy::none));
            for (int i = 0; i < 3; ++i)
                ASSERT_EQ(publish(*n, "d", "unsynced-" + std::to_string(i)), Errc::ok);
            bk::io_set_faults(nullptr);
            disk.crash(tear);
            // The handles are dropped without closing work: the "machine" died.
            n.reset();
            g.reset();
        }
        // A machine crash means a new boot: the first opener then checks
        // whole segments, not just up to their tails.
        {
            int fd = ::open((d.path() + "/broker.ctl").c_str(), O_WRONLY);
            ASSERT_GE(fd, 0);
            char zeros[sizeof(bk::BrokerControl::boot_id)] = {};
            ASSERT_EQ(::pwrite(fd, zeros, sizeof zeros, offsetof(bk::BrokerControl, boot_id)),
                      ssize_t(sizeof zeros));
            ::close(fd);
        }
        auto b = open(d.path(), opts());  // first opener: repairs the tail
        auto all = read_all(*b, "d");
        ASSERT_GE(all.size(), 20u);
        for (int i = 0; i < 20; ++i) EXPECT_EQ(all[i].second, "acked-" + std::to_string(i));
        for (size_t i = 20; i < all.size(); ++i) EXPECT_EQ(all[i].second.rfind("unsynced-", 0), 0u);
        // And the log goes on after the cut.
        uint64_t off;
        ASSERT_EQ(publish(*b, "d", "next", &off), Errc::ok);
        EXPECT_EQ(off, all.size());
    }
}

}  // namespace
