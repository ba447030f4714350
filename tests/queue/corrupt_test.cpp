// Bad input from shared memory and disk: every header byte flipped in turn,
// truncated and grown files, wrong versions, forged checksums, out-of-range
// and cyclic links planted in nodes, a region of another user, a name taken
// by a foreign file, a creator that died or stalls. Each gives its specific
// code and never a crash (this suite also runs under ASan+UBSan).
#include <cqueue/cqueue.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/queue/layout.hpp"
#include "core/queue/queue.hpp"
#include "core/util/crc32c.hpp"
#include "tests/util/test_util.hpp"

namespace {
namespace L = cq::layout;

std::string slurp(const std::string &p) {
    return cqtest::read_file(p);
}
void spit(const std::string &p, const std::string &bytes) {
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
}
template <typename T>
T get(const std::string &b, size_t off) {
    T v;
    std::memcpy(&v, b.data() + off, sizeof v);
    return v;
}
template <typename T>
void put(std::string &b, size_t off, T v) {
    std::memcpy(b.data() + off, &v, sizeof v);
}
void reseal(std::string &b) {  // recompute the header checksum
    put<uint32_t>(b, offsetof(L::RegionHeader, checksum),
                  cq::crc32c(0, b.data(), L::kChecksummedBytes));
}

class Corrupt : public ::testing::Test {
  protected:
    void SetUp() override {
        path_ = dir_.file("q.cq");
        cq_queue_options o;
        cq_queue_options_init(&o);
        o.flags = CQ_CREATE | CQ_EXCL;
        o.capacity = 8;
        o.max_message_size = 32;
        cq_queue *q = nullptr;
        ASSERT_EQ(cq_open(path_.c_str(), &o, &q), CQ_OK) << cq_last_error();
        for (const char *m : {"one", "two", "three"}) ASSERT_EQ(cq_enqueue(q, m, strlen(m)), CQ_OK);
        cq_close(q);
        good_ = slurp(path_);
        stride_ = get<uint64_t>(good_, offsetof(L::RegionHeader, node_stride));
        nodes_ = get<uint64_t>(good_, offsetof(L::RegionHeader, nodes_offset));
    }
    int open_plain(cq_queue **q, uint32_t flags = 0) {
        cq_queue_options o;
        cq_queue_options_init(&o);
        o.flags = flags;
        o.capacity = 8;
        o.max_message_size = 32;
        *q = nullptr;
        return cq_open(path_.c_str(), &o, q);
    }
    // Opens and, if that works, drives every operation: each must return
    // a defined code.
    int open_and_exercise() {
        cq_queue *q;
        int r = open_plain(&q);
        if (r != CQ_OK) return r;
        auto valid = [](int c) { return c >= CQ_EFOREIGN && c <= 8; };
        char buf[64];
        size_t len;
        EXPECT_TRUE(valid(cq_enqueue(q, "x", 1)));
        for (int i = 0; i < 12; ++i) EXPECT_TRUE(valid(cq_dequeue(q, buf, sizeof buf, &len)));
        cq_iov iov[2] = {{"a", 1}, {"b", 1}};
        EXPECT_TRUE(valid(cq_enqueue_batch(q, iov, 2)));
        cq_rbuf rb[2] = {{buf, 32, 0}, {buf + 32, 32, 0}};
        EXPECT_TRUE(valid(cq_dequeue_batch(q, rb, 2)));
        cq_queue_stats st = CQ_QUEUE_STATS_INIT;
        EXPECT_TRUE(valid(cq_stats(q, &st)));
        EXPECT_TRUE(valid(cq_recover(q, nullptr)));
        EXPECT_TRUE(valid(cq_dequeue_wait(q, buf, sizeof buf, &len, 1'000'000)));
        cq_close(q);
        return CQ_OK;
    }
    size_t node_off(uint32_t i) const { return nodes_ + stride_ * i; }
    uint32_t head_idx(const std::string &b) const {
        return L::idx_of(get<uint64_t>(b, offsetof(L::RegionHeader, head)));
    }

    cqtest::TempDir dir_;
    std::string path_, good_;
    uint64_t stride_ = 0, nodes_ = 0;
};

// The code a flip of header byte `off` must give, or 1 for "any defined
// code" (mutable fields: the damage may or may not be detectable).
int expected_for_offset(size_t off) {
    if (off < 8) return CQ_EFOREIGN;    // magic
    if (off < 24) return CQ_EVERSION;   // layout version, struct sizes
    if (off < 112) return CQ_ECORRUPT;  // geometry (checksummed) and checksum
    if (off >= offsetof(L::RegionHeader, init_state) &&
        off < offsetof(L::RegionHeader, init_state) + 4)
        return CQ_ECORRUPT;  // "half-initialised by a dead creator"
    return 1;
}

TEST_F(Corrupt, EveryHeaderByteFlipped) {
    int checked = 0;
    for (size_t off = 0; off < sizeof(L::RegionHeader); off += off < 640 ? 1 : 97) {
        std::string b = good_;
        b[off] = static_cast<char>(b[off] ^ 0xFF);
        spit(path_, b);
        int want = expected_for_offset(off);
        int got = open_and_exercise();
        if (want == 1)
            EXPECT_TRUE(got >= CQ_EFOREIGN && got <= CQ_OK) << "offset " << off << " gave " << got;
        else
            EXPECT_EQ(got, want) << "offset " << off << ": " << cq_last_error();
        ++checked;
    }
    EXPECT_GT(checked, 640);
}

TEST_F(Corrupt, TruncatedAndGrownFiles) {
    const size_t total = good_.size();
    struct Case {
        size_t size;
        int want;
    } cases[] = {{0, CQ_ECORRUPT},    {100, CQ_EFOREIGN},       {4095, CQ_EFOREIGN},
                 {4096, CQ_ECORRUPT}, {total - 1, CQ_ECORRUPT}, {total + 4096, CQ_ECORRUPT}};
    for (auto c : cases) {
        std::string b = good_;
        b.resize(c.size, '\0');
        spit(path_, b);
        cq_queue *q;
        EXPECT_EQ(open_plain(&q), c.want) << "size " << c.size << ": " << cq_last_error();
    }
}

TEST_F(Corrupt, WrongVersionAndStructSizesEvenWithAValidChecksum) {
    // The next version, and the previous one (a region made by an older
    // library: version 2 kept the lane's free stack on its first line).
    cq_queue *q;
    std::string b;
    for (uint32_t v : {L::kLayoutVersion + 1, L::kLayoutVersion - 1}) {
        b = good_;
        put<uint32_t>(b, offsetof(L::RegionHeader, layout_version), v);
        reseal(b);
        spit(path_, b);
        EXPECT_EQ(open_plain(&q), CQ_EVERSION) << "version " << v;
        const std::string want = "layout version " + std::to_string(v) +
                                 ", this library reads version " +
                                 std::to_string(L::kLayoutVersion);
        EXPECT_NE(std::string(cq_last_error()).find(want), std::string::npos) << cq_last_error();
    }
    b = good_;
    put<uint32_t>(b, offsetof(L::RegionHeader, node_header_size), 48);
    reseal(b);
    spit(path_, b);
    EXPECT_EQ(open_plain(&q), CQ_EVERSION);
}

TEST_F(Corrupt, ForgedChecksumWithInconsistentGeometry) {
    for (size_t field :
         {offsetof(L::RegionHeader, capacity), offsetof(L::RegionHeader, node_stride),
          offsetof(L::RegionHeader, nodes_offset), offsetof(L::RegionHeader, lane_count)}) {
        std::string b = good_;
        put<uint32_t>(b, field, get<uint32_t>(b, field) + 64);
        reseal(b);
        spit(path_, b);
        cq_queue *q;
        EXPECT_EQ(open_plain(&q), CQ_ECORRUPT) << "field at " << field;
    }
}

TEST_F(Corrupt, OutOfRangeLinkInTheQueueIsStickyCorruption) {
    std::string b = good_;
    size_t next_off = node_off(head_idx(b)) + offsetof(L::NodeHeader, next);
    uint64_t next = get<uint64_t>(b, next_off);
    put<uint64_t>(b, next_off, L::tagged(0x7FFFFFF0u, L::tag_of(next)));
    spit(path_, b);
    cq_queue *q;
    ASSERT_EQ(open_plain(&q), CQ_OK);
    char buf[64];
    size_t len;
    EXPECT_EQ(cq_dequeue(q, buf, sizeof buf, &len), CQ_ECORRUPT);
    EXPECT_NE(std::string(cq_last_error()).find("corrupt"), std::string::npos);
    EXPECT_EQ(cq_enqueue(q, "x", 1), CQ_ECORRUPT);  // sticky
    cq_close(q);
    ASSERT_EQ(open_plain(&q), CQ_OK);  // and sticky for every process
    EXPECT_EQ(cq_enqueue(q, "x", 1), CQ_ECORRUPT);
    cq_close(q);
}

TEST_F(Corrupt, OutOfRangeLinkInTheFreeList) {
    std::string b = good_;
    uint32_t top = L::idx_of(get<uint64_t>(b, offsetof(L::RegionHeader, free_top)));
    put<uint32_t>(b, node_off(top) + offsetof(L::NodeHeader, free_next), 0x7FFFFFF0u);
    spit(path_, b);
    cq_queue *q;
    ASSERT_EQ(open_plain(&q), CQ_OK);
    EXPECT_EQ(cq_enqueue(q, "x", 1), CQ_ECORRUPT);
    cq_close(q);
}

TEST_F(Corrupt, CycleInTheQueueList) {
    // three -> (back to) one: the list never ends.
    std::string b = good_;
    uint32_t dummy = head_idx(b);
    uint32_t cur = dummy, last = dummy;
    for (int i = 0; i < 3; ++i) {
        last = L::idx_of(get<uint64_t>(b, node_off(cur) + offsetof(L::NodeHeader, next)));
        cur = last;
    }
    uint32_t first = L::idx_of(get<uint64_t>(b, node_off(dummy) + offsetof(L::NodeHeader, next)));
    put<uint64_t>(b, node_off(last) + offsetof(L::NodeHeader, next), L::tagged(first, 7));
    spit(path_, b);
    cq_queue *q;
    ASSERT_EQ(open_plain(&q), CQ_OK);
    EXPECT_EQ(cq_enqueue(q, "x", 1), CQ_ECORRUPT);  // tail helping is bounded
    cq_close(q);
    spit(path_, b);
    ASSERT_EQ(open_plain(&q), CQ_OK);
    EXPECT_EQ(cq_recover(q, nullptr), CQ_ECORRUPT);
    EXPECT_NE(std::string(cq_last_error()).find("cycle"), std::string::npos) << cq_last_error();
    char buf[64];
    size_t len;
    EXPECT_EQ(cq_dequeue(q, buf, sizeof buf, &len), CQ_ECORRUPT);
    cq_close(q);
}

TEST_F(Corrupt, SelfLinkedTailFoundByTheFuzzer) {
    // Found by tests/fuzz/region_fuzz: tail linking to itself made dequeue
    // help the tail forward forever once the queue looked empty.
    std::string b = good_;
    uint32_t tail = L::idx_of(get<uint64_t>(b, offsetof(L::RegionHeader, tail)));
    put<uint64_t>(b, node_off(tail) + offsetof(L::NodeHeader, next), L::tagged(tail, 3));
    spit(path_, b);
    cq_queue *q;
    ASSERT_EQ(open_plain(&q), CQ_OK);
    char buf[64];
    size_t len;
    int r = CQ_OK;
    for (int i = 0; i < 4 && r == CQ_OK; ++i) r = cq_dequeue(q, buf, sizeof buf, &len);
    EXPECT_EQ(r, CQ_ECORRUPT);
    cq_close(q);
    spit(path_, b);
    ASSERT_EQ(open_plain(&q), CQ_OK);
    EXPECT_EQ(cq_enqueue(q, "x", 1), CQ_ECORRUPT);
    cq_close(q);
}

TEST_F(Corrupt, CycleInTheFreeListAndSharedNodes) {
    std::string b = good_;
    uint32_t top = L::idx_of(get<uint64_t>(b, offsetof(L::RegionHeader, free_top)));
    uint32_t second = get<uint32_t>(b, node_off(top) + offsetof(L::NodeHeader, free_next));
    put<uint32_t>(b, node_off(second) + offsetof(L::NodeHeader, free_next), top);
    spit(path_, b);
    cq_queue *q;
    ASSERT_EQ(open_plain(&q), CQ_OK);
    EXPECT_EQ(cq_recover(q, nullptr), CQ_ECORRUPT);
    cq_close(q);
    // A free-list link into the queue: one node on both lists.
    b = good_;
    put<uint32_t>(b, node_off(top) + offsetof(L::NodeHeader, free_next), head_idx(b));
    spit(path_, b);
    ASSERT_EQ(open_plain(&q), CQ_OK);
    EXPECT_EQ(cq_recover(q, nullptr), CQ_ECORRUPT);
    cq_close(q);
}

TEST_F(Corrupt, MessageLengthBeyondTheMaximum) {
    std::string b = good_;
    uint32_t first =
        L::idx_of(get<uint64_t>(b, node_off(head_idx(b)) + offsetof(L::NodeHeader, next)));
    put<uint32_t>(b, node_off(first) + offsetof(L::NodeHeader, len), 1u << 30);
    spit(path_, b);
    cq_queue *q;
    ASSERT_EQ(open_plain(&q), CQ_OK);
    std::vector<char> big(64);
    size_t len = 0;
    EXPECT_EQ(cq_dequeue(q, big.data(), big.size(), &len), CQ_ECORRUPT);
    cq_close(q);
}

// NodeHeader::ahead and ::lead are only prefetch hints: out of range,
// self-naming or naming nodes of another list, they change nothing a caller
// sees.
TEST_F(Corrupt, PrefetchHintsAreNeverTrusted) {
    std::string b = good_;
    const uint32_t nodes = get<uint32_t>(b, offsetof(L::RegionHeader, node_count));
    const uint32_t junk[] = {0xFFFFFFF0u, 0x7FFFFFFFu, nodes, 0, L::kNil};
    for (uint32_t i = 0; i < nodes; ++i) {
        put<uint32_t>(b, node_off(i) + offsetof(L::NodeHeader, ahead),
                      i % 2 ? i : junk[i % std::size(junk)]);
        for (uint32_t k = 0; k < 2; ++k)
            put<uint32_t>(b, node_off(i) + offsetof(L::NodeHeader, lead) + 4 * k,
                          (i + k) % 3 ? junk[(i + k) % std::size(junk)] : i);
    }
    spit(path_, b);
    cq_queue *q;
    ASSERT_EQ(open_plain(&q), CQ_OK);
    char buf[8][32];
    cq_rbuf rb[8];
    for (int i = 0; i < 8; ++i) rb[i] = {buf[i], sizeof buf[i], 0};
    ASSERT_EQ(cq_dequeue_batch(q, rb, 8), 3) << cq_last_error();
    EXPECT_EQ(std::string(buf[2], rb[2].len), "three");
    for (int round = 0; round < 3; ++round) {
        cq_iov iov[8];
        std::string text[8];
        for (int i = 0; i < 8; ++i) {
            text[i] = std::to_string(round * 8 + i);
            iov[i] = {text[i].data(), text[i].size()};
        }
        ASSERT_EQ(cq_enqueue_batch(q, iov, 8), 8) << cq_last_error();
        ASSERT_EQ(cq_dequeue_batch(q, rb, 8), 8) << cq_last_error();
        for (int i = 0; i < 8; ++i) EXPECT_EQ(std::string(buf[i], rb[i].len), text[i]);
    }
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    ASSERT_EQ(cq_stats(q, &st), CQ_OK);
    EXPECT_EQ(st.free_nodes + st.length, st.capacity);
    cq_close(q);
}

// Every process maps the header writable. A peer that rewrites the geometry
// after this process opened the queue must not send it outside its mapping:
// the geometry is read and checked once, at open, and kept.
TEST_F(Corrupt, GeometryRewrittenAfterOpenIsNeverFollowed) {
    cq_queue *q;
    ASSERT_EQ(open_plain(&q), CQ_OK);
    int fd = ::open(path_.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    void *a = ::mmap(nullptr, sizeof(L::RegionHeader), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    ASSERT_NE(a, MAP_FAILED);
    auto *h = static_cast<L::RegionHeader *>(a);
    h->lanes_offset = uint64_t{1} << 40;
    h->nodes_offset = uint64_t{1} << 40;
    h->lane_count = 0xFFFFFFFFu;
    h->node_count = 0xFFFFFFFFu;
    h->node_stride = 0xFFFFFFF0u;
    h->capacity = 0xFFFFFFFEu;
    h->lanes_used.store(0xFFFFFFFFu);
    // This handle goes on with the geometry it checked: fill (steals walk
    // every lane), drain in order, recover (the scan walks every lane).
    char buf[64];
    size_t len;
    ASSERT_EQ(cq_dequeue(q, buf, sizeof buf, &len), CQ_OK);  // "one" from SetUp
    int sent = 0;
    while (cq_enqueue(q, &sent, sizeof sent) == CQ_OK) ++sent;
    EXPECT_EQ(sent, 6);  // 8 nodes, two still hold "two" and "three"
    for (const char *m : {"two", "three"}) {
        ASSERT_EQ(cq_dequeue(q, buf, sizeof buf, &len), CQ_OK) << cq_last_error();
        EXPECT_EQ(std::string(buf, len), m);
    }
    for (int i = 0; i < sent; ++i) {
        int got = -1;
        ASSERT_EQ(cq_dequeue(q, &got, sizeof got, &len), CQ_OK) << cq_last_error();
        EXPECT_EQ(got, i);
    }
    uint64_t reclaimed = 99;
    EXPECT_EQ(cq_recover(q, &reclaimed), CQ_OK) << cq_last_error();
    EXPECT_EQ(reclaimed, 0u);
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    ASSERT_EQ(cq_stats(q, &st), CQ_OK);
    EXPECT_EQ(st.free_nodes, 8u);
    cq_close(q);
    ::munmap(a, sizeof(L::RegionHeader));
    // A process that opens it now sees the damage.
    EXPECT_EQ(open_plain(&q), CQ_ECORRUPT);
}

// A region bigger than the space left on its tmpfs: ftruncate passes the
// limit there, and the first write past it used to kill the creator with
// SIGBUS. Needs a small tmpfs of its own: mounted in a child's private mount
// namespace (root only; skipped otherwise).
TEST(Creation, RegionBiggerThanItsFilesystemIsAnErrorNotASigbus) {
    cqtest::TempDir dir;
    const std::string mnt = dir.file("small");
    ASSERT_EQ(::mkdir(mnt.c_str(), 0700), 0);
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::unshare(CLONE_NEWNS) != 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0)
            ::_exit(77);
        cq_queue_options o = CQ_QUEUE_OPTIONS_INIT;
        o.flags = CQ_CREATE | CQ_EXCL;
        o.capacity = 100'000;  // about 30 MB
        cq_queue *q = nullptr;
        const int r = cq_open((mnt + "/q").c_str(), &o, &q);
        const bool said = std::strstr(cq_last_error(), "reserve") != nullptr;
        struct stat st;
        const bool removed = ::stat((mnt + "/q").c_str(), &st) != 0;
        ::_exit(r == CQ_ENOMEM && said && removed ? 0 : 1);
    }
    const int st = cqtest::wait_status(pid);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) GTEST_SKIP() << "no private tmpfs mount here";
    ASSERT_TRUE(WIFEXITED(st)) << "killed by signal " << (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST_F(Corrupt, ForeignFileIsNeverOverwritten) {
    std::mt19937 rng(1);
    std::string junk(8192, '\0');
    for (auto &c : junk) c = static_cast<char>(rng());
    junk[0] = 'J';  // not our magic, not zero
    spit(path_, junk);
    cq_queue *q;
    EXPECT_EQ(open_plain(&q), CQ_EFOREIGN);
    EXPECT_EQ(open_plain(&q, CQ_CREATE), CQ_EFOREIGN);
    EXPECT_EQ(slurp(path_), junk);
    // The same for a shared-memory name.
    std::string name = cqtest::unique_name("foreign");
    spit("/dev/shm/" + name, junk);
    EXPECT_EQ(cq_open(name.c_str(), nullptr, &q), CQ_EFOREIGN);
    EXPECT_EQ(slurp("/dev/shm/" + name), junk);
    ::unlink(("/dev/shm/" + name).c_str());
    // A directory where the file should be.
    EXPECT_NE(cq_open(dir_.path().c_str(), nullptr, &q), CQ_OK);
}

TEST_F(Corrupt, RegionOfAnotherUserIsRefused) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to another user";
    std::string name = cqtest::unique_name("perm");
    cq_queue_options o;
    cq_queue_options_init(&o);
    o.flags = CQ_CREATE;
    cq_queue *q = nullptr;
    ASSERT_EQ(cq_open(name.c_str(), &o, &q), CQ_OK);
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
        cq_queue *mine = nullptr;
        int r = cq_open(name.c_str(), nullptr, &mine);
        ::_exit(r == CQ_EPERM ? 0 : 1);
    }
    int st = cqtest::wait_status(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "child exit " << WEXITSTATUS(st);
    cq_close(q);
    cq_unlink(name.c_str());
}

TEST_F(Corrupt, CreatorThatDiedBeforeSizingIsDetected) {
    spit(path_, "");  // created (O_EXCL) but never sized: the creator died
    cq_queue *q;
    EXPECT_EQ(open_plain(&q), CQ_ECORRUPT);
    EXPECT_NE(std::string(cq_last_error()).find("half-initialised"), std::string::npos);
    ASSERT_EQ(open_plain(&q, CQ_CREATE), CQ_OK) << cq_last_error();  // re-initialised
    ASSERT_EQ(cq_enqueue(q, "x", 1), CQ_OK);
    cq_close(q);
}

TEST_F(Corrupt, StalledCreatorIsWaitedForThenDeadCreatorIsReplaced) {
    std::string b(sizeof(L::RegionHeader) * 2, '\0');  // sized, not yet written
    spit(path_, b);
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t pid = ::fork();
    if (pid == 0) {  // the "creator": holds the init lock and stalls
        int fd = ::open(path_.c_str(), O_RDWR);
        struct flock fl {};
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = static_cast<off_t>(L::kInitLockByte);
        fl.l_len = 1;
        if (fd < 0 || ::fcntl(fd, F_OFD_SETLK, &fl) != 0) ::_exit(1);
        if (::write(ready[1], "r", 1) != 1) ::_exit(1);
        ::pause();
        ::_exit(0);
    }
    char c;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    cq::RegionParams p;
    p.creator_wait_ns = 300'000'000;
    std::unique_ptr<cq::Queue> q;
    EXPECT_EQ(cq::Queue::open(path_.c_str(), p, &q), cq::Errc::timedout);
    cqtest::kill_and_reap(pid, SIGKILL);
    EXPECT_EQ(cq::Queue::open(path_.c_str(), p, &q), cq::Errc::corrupt);
    p.create = true;
    p.capacity = 4;
    p.max_message_size = 8;
    ASSERT_EQ(cq::Queue::open(path_.c_str(), p, &q), cq::Errc::ok) << cq::last_error();
    EXPECT_EQ(q->capacity(), 4u);
    EXPECT_EQ(q->enqueue("x", 1), cq::Errc::ok);
    ::close(ready[0]);
    ::close(ready[1]);
}

TEST(Creation, ManyProcessesRaceToCreateOneQueue) {
    std::string name = cqtest::unique_name("race");
    std::vector<pid_t> kids;
    for (int i = 0; i < 8; ++i) {
        pid_t pid = ::fork();
        if (pid == 0) {
            cq_queue_options o;
            cq_queue_options_init(&o);
            o.flags = CQ_CREATE;
            o.capacity = 64;
            cq_queue *q = nullptr;
            if (cq_open(name.c_str(), &o, &q) != CQ_OK) ::_exit(1);
            if (cq_enqueue(q, &i, sizeof i) != CQ_OK) ::_exit(2);
            cq_close(q);
            ::_exit(0);
        }
        kids.push_back(pid);
    }
    for (pid_t k : kids) {
        int st = cqtest::wait_status(k);
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << WEXITSTATUS(st);
    }
    cq_queue *q = nullptr;
    ASSERT_EQ(cq_open(name.c_str(), nullptr, &q), CQ_OK);
    int seen = 0, v;
    size_t len;
    while (cq_dequeue(q, &v, sizeof v, &len) == CQ_OK) seen |= 1 << v;
    EXPECT_EQ(seen, 0xFF);  // all eight enqueued into the one queue
    cq_close(q);
    cq_unlink(name.c_str());
}

// Not damage: states a process killed at the wrong moment leaves behind,
// built byte by byte in the region file (the fixture's queue: dummy -> "one"
// -> "two" -> "three", capacity 8), and what recovery makes of them.
class DeadMidOperation : public Corrupt {
  protected:
    uint32_t next_of(const std::string &b, uint32_t n) const {
        return L::idx_of(get<uint64_t>(b, node_off(n) + offsetof(L::NodeHeader, next)));
    }
    size_t lane_off(uint32_t i) const {
        return get<uint64_t>(good_, offsetof(L::RegionHeader, lanes_offset)) + sizeof(L::Lane) * i;
    }
    uint32_t done_of(const std::string &b, uint32_t n) const {
        return get<uint32_t>(b, node_off(n) + offsetof(L::NodeHeader, done));
    }
    static cq_queue_stats stats(cq_queue *q) {
        cq_queue_stats st = CQ_QUEUE_STATS_INIT;
        EXPECT_EQ(cq_stats(q, &st), CQ_OK);
        return st;
    }
    // The whole capacity is usable, in order, and no more.
    static void expect_full_capacity(cq_queue *q) {
        for (int i = 0; i < 8; ++i)
            ASSERT_EQ(cq_enqueue(q, &i, sizeof i), CQ_OK) << i << ": " << cq_last_error();
        EXPECT_EQ(cq_enqueue(q, "x", 1), CQ_EFULL);
        for (int i = 0; i < 8; ++i) {
            int v = -1;
            size_t len = 0;
            ASSERT_EQ(cq_dequeue(q, &v, sizeof v, &len), CQ_OK);
            EXPECT_EQ(v, i);
        }
    }
    // A producer linked "three" after "two" (E9) and died before swinging
    // tail (E17): tail still names "two".
    std::string tail_left_on_two() {
        std::string b = good_;
        uint32_t two = next_of(b, next_of(b, head_idx(b)));
        uint64_t tail = get<uint64_t>(b, offsetof(L::RegionHeader, tail));
        put<uint64_t>(b, offsetof(L::RegionHeader, tail), L::tagged(two, L::tag_of(tail) + 7));
        return b;
    }
    void drain_three(cq_queue *q) {
        char buf[32];
        size_t len;
        for (const char *m : {"one", "two", "three"}) {
            ASSERT_EQ(cq_dequeue(q, buf, sizeof buf, &len), CQ_OK);
            EXPECT_EQ(std::string(buf, len), m);
        }
    }
};

TEST_F(DeadMidOperation, ConsumersPassATailLeftBehindAndRecoverySwingsIt) {
    spit(path_, tail_left_on_two());
    cq_queue *q;
    ASSERT_EQ(open_plain(&q, CQ_NO_RECOVER), CQ_OK);
    // Head passes tail. "two" is our lane's pending run: nothing proved yet
    // that tail passed it (counted as free: a producer can take it).
    drain_three(q);
    EXPECT_EQ(stats(q).free_nodes, 8u);
    uint64_t reclaimed = 99;
    ASSERT_EQ(cq_recover(q, &reclaimed), CQ_OK) << cq_last_error();
    EXPECT_EQ(reclaimed, 0u);  // nothing was an orphan
    EXPECT_EQ(stats(q).free_nodes, 8u);
    // Recovery moved tail to the end and freed the pending run.
    std::string after = slurp(path_);
    EXPECT_EQ(L::idx_of(get<uint64_t>(after, offsetof(L::RegionHeader, tail))), head_idx(after));
    for (uint32_t i = 0; i < 512; ++i)
        EXPECT_EQ(get<uint64_t>(after, lane_off(i) + offsetof(L::Lane, pending)), 0u) << i;
    expect_full_capacity(q);
    cq_close(q);
}

TEST_F(DeadMidOperation, ATailLeftBehindIsHelpedForwardByTheNextProducer) {
    spit(path_, tail_left_on_two());
    cq_queue *q;
    ASSERT_EQ(open_plain(&q, CQ_NO_RECOVER), CQ_OK);
    drain_three(q);
    // The eighth enqueue finds no free node, moves tail to the end (which
    // proves "two" passed) and takes the pending run.
    expect_full_capacity(q);
    EXPECT_EQ(stats(q).free_nodes, 8u);
    cq_close(q);
}

TEST_F(DeadMidOperation, RecoveryFinishesWhatAConsumerKilledAfterItsClaimOwed) {
    // A consumer claimed "one" (head moved to it) and died before copying
    // it and before marking the old dummy unlinked.
    std::string b = good_;
    uint32_t dummy = head_idx(b), one = next_of(b, dummy);
    uint64_t head = get<uint64_t>(b, offsetof(L::RegionHeader, head));
    put<uint64_t>(b, offsetof(L::RegionHeader, head), L::tagged(one, L::tag_of(head) + 1));
    EXPECT_EQ(done_of(b, one), 0u);
    spit(path_, b);
    cq_queue *q;
    ASSERT_EQ(open_plain(&q, CQ_NO_RECOVER), CQ_OK);
    uint64_t reclaimed = 0;
    ASSERT_EQ(cq_recover(q, &reclaimed), CQ_OK) << cq_last_error();
    EXPECT_EQ(reclaimed, 1u);  // the old dummy: off the list, passed by tail
    char buf[32];
    size_t len;
    for (const char *m : {"two", "three"}) {
        ASSERT_EQ(cq_dequeue(q, buf, sizeof buf, &len), CQ_OK);
        EXPECT_EQ(std::string(buf, len), m);
    }
    // "one" was freed when the dequeue of "three" proved tail passed it:
    // recovery had marked it copied.
    EXPECT_EQ(stats(q).free_nodes, 8u);
    EXPECT_EQ(done_of(slurp(path_), one), 0u);
    expect_full_capacity(q);
    cq_close(q);
}

TEST_F(DeadMidOperation, RecoveryRepaysTheCopyOfANodeInAnotherConsumersPendingRun) {
    // "a" and "b" enqueued as one batch: the link a -> b is soft. Consumer X
    // claimed "a" (head -> a) and died before copying it; consumer E then
    // claimed "b" (head -> b), which unlinked "a" into E's pending run: no
    // hard link proved that tail passed it. Only recovery can add the copy
    // X owed; without it "a" never becomes free.
    cq_queue *q;
    ASSERT_EQ(open_plain(&q, CQ_NO_RECOVER), CQ_OK);
    drain_three(q);
    cq_iov iov[2] = {{"a", 1}, {"b", 1}};
    ASSERT_EQ(cq_enqueue_batch(q, iov, 2), 2);
    cq_close(q);
    std::string b = slurp(path_);
    const uint32_t dummy = head_idx(b), a = next_of(b, dummy), bb = next_of(b, a);
    ASSERT_EQ(next_of(b, bb), L::kNil);
    ASSERT_FALSE(L::is_hard(get<uint64_t>(b, node_off(a) + offsetof(L::NodeHeader, next))));
    const uint64_t head = get<uint64_t>(b, offsetof(L::RegionHeader, head));
    put<uint64_t>(b, offsetof(L::RegionHeader, head), L::tagged(bb, L::tag_of(head) + 2));
    put<uint32_t>(b, node_off(a) + offsetof(L::NodeHeader, done), L::kUnlinked);
    put<uint32_t>(b, node_off(bb) + offsetof(L::NodeHeader, done), L::kCopied);
    put<uint64_t>(b, lane_off(1) + offsetof(L::Lane, pending), L::pending_run(a, 1));
    put<uint32_t>(b, lane_off(1) + offsetof(L::Lane, pending_next), bb);
    put<uint32_t>(b, offsetof(L::RegionHeader, lanes_used), 2);
    spit(path_, b);
    ASSERT_EQ(open_plain(&q, CQ_NO_RECOVER), CQ_OK);
    uint64_t reclaimed = 0;
    ASSERT_EQ(cq_recover(q, &reclaimed), CQ_OK) << cq_last_error();
    EXPECT_EQ(reclaimed, 1u);  // the old dummy X left off every list
    EXPECT_EQ(stats(q).length, 0u);
    EXPECT_EQ(stats(q).free_nodes, 8u);
    expect_full_capacity(q);
    cq_close(q);
}

TEST_F(DeadMidOperation, APendingRunOfAThreadThatExitedIsTakenWhenTheQueueIsFull) {
    cq_queue *q;
    ASSERT_EQ(open_plain(&q, CQ_NO_RECOVER), CQ_OK);
    // Another thread (its own lane) drains; its last node stays pending in
    // its lane after it exits, since no enqueue came after to prove tail
    // passed it.
    std::thread t([&] { drain_three(q); });
    t.join();
    EXPECT_EQ(stats(q).length, 0u);
    std::string b = slurp(path_);
    uint64_t runs = 0;
    for (uint32_t i = 0; i < 512; ++i)
        runs += L::run_count(get<uint64_t>(b, lane_off(i) + offsetof(L::Lane, pending)));
    EXPECT_EQ(runs, 1u);
    expect_full_capacity(q);  // the eighth enqueue takes it
    cq_close(q);
}

TEST_F(DeadMidOperation, ADamagedPendingRunIsCorruption) {
    // Lane 0 is the one the next handle's thread takes.
    for (uint64_t run : {L::pending_run(0x7FFFFFF0u, 1), L::pending_run(1, 0xFFFFFFFFu)}) {
        std::string b = good_;
        put<uint64_t>(b, lane_off(0) + offsetof(L::Lane, pending), run);
        spit(path_, b);
        cq_queue *q;
        ASSERT_EQ(open_plain(&q, CQ_NO_RECOVER), CQ_OK);
        char buf[32];
        size_t len;
        EXPECT_EQ(cq_dequeue(q, buf, sizeof buf, &len), CQ_ECORRUPT);
        cq_close(q);
        spit(path_, b);
        ASSERT_EQ(open_plain(&q, CQ_NO_RECOVER), CQ_OK);
        EXPECT_EQ(cq_recover(q, nullptr), CQ_ECORRUPT);
        EXPECT_NE(std::string(cq_last_error()).find("pending"), std::string::npos)
            << cq_last_error();
        cq_close(q);
    }
}

TEST_F(DeadMidOperation, ATailThatLeadsNowhereIsCorruption) {
    // Tail behind head must lead to head; here it names a free node.
    std::string b = good_;
    uint32_t top = L::idx_of(get<uint64_t>(b, offsetof(L::RegionHeader, free_top)));
    put<uint64_t>(b, offsetof(L::RegionHeader, tail), L::tagged(top, 1));
    spit(path_, b);
    cq_queue *q;
    ASSERT_EQ(open_plain(&q, CQ_NO_RECOVER), CQ_OK);
    EXPECT_EQ(cq_recover(q, nullptr), CQ_ECORRUPT);
    EXPECT_NE(std::string(cq_last_error()).find("tail"), std::string::npos) << cq_last_error();
    cq_close(q);
}

}  // namespace
