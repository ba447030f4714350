// Single-process behaviour of the queue through the public C API: FIFO,
// full and empty, every size, CQ_EMSGSIZE, batches, waits, options and names.
#include <cqueue/cqueue.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/util/queue_util.hpp"
#include "tests/util/test_util.hpp"

namespace {

class Queue : public ::testing::Test {
  protected:
    void TearDown() override {
        for (auto *q : open_) cq_close(q);
        for (auto &n : names_) cq_unlink(n.c_str());
    }
    cq_queue *create(uint32_t capacity = 8, uint32_t max_size = 64, uint32_t extra_flags = 0) {
        std::string name = cqtest::unique_name("basic");
        cq_queue *q = cqtest::create_queue(name, capacity, max_size, extra_flags);
        names_.push_back(name);
        open_.push_back(q);
        return q;
    }
    std::vector<std::string> names_;
    std::vector<cq_queue *> open_;
};

TEST(Options, InitMatchesMacro) {
    cq_queue_options a;
    std::memset(&a, 0xAB, sizeof a);
    cq_queue_options_init(&a);
    cq_queue_options b = CQ_QUEUE_OPTIONS_INIT;
    EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0);
    EXPECT_EQ(a.struct_size, sizeof a);
    EXPECT_EQ(a.capacity, 65536u);
    EXPECT_EQ(a.max_message_size, 256u);
    EXPECT_EQ(a.mode, 0600u);
    EXPECT_EQ(a.flags, 0u);
    cq_queue_options_init(nullptr);  // ignored
}

TEST(Errors, StrerrorIsStaticAndDistinct) {
    std::set<std::string> texts;
    for (int c = CQ_EFOREIGN; c <= CQ_OK; ++c) {
        const char *t = cq_strerror(c);
        ASSERT_NE(t, nullptr);
        texts.insert(t);
    }
    EXPECT_EQ(texts.size(), static_cast<size_t>(-CQ_EFOREIGN + 1));
    EXPECT_STREQ(cq_strerror(-999), "unknown error");
    EXPECT_STREQ(cq_strerror(12345), "unknown error");
    EXPECT_STREQ(cq_version(), CQ_VERSION_STRING);
    EXPECT_NE(cq_last_error(), nullptr);
}

TEST(Names, Validation) {
    cq_queue *q = nullptr;
    cq_queue_options o;
    cq_queue_options_init(&o);
    o.flags = CQ_CREATE;
    EXPECT_EQ(cq_open("", &o, &q), CQ_EINVAL);
    EXPECT_EQ(cq_open(nullptr, &o, &q), CQ_EINVAL);
    EXPECT_EQ(cq_open("bad name", &o, &q), CQ_EINVAL);
    EXPECT_NE(std::string(cq_last_error()).find("0x20"), std::string::npos) << cq_last_error();
    EXPECT_EQ(cq_open("bad*name", &o, &q), CQ_EINVAL);
    EXPECT_EQ(cq_open("..", &o, &q), CQ_EINVAL);
    EXPECT_EQ(cq_open(std::string(201, 'a').c_str(), &o, &q), CQ_EINVAL);
    EXPECT_EQ(cq_open("ok", &o, nullptr), CQ_EINVAL);
    EXPECT_EQ(q, nullptr);
    // 200 characters is the longest name.
    std::string longest = cqtest::unique_name("n");
    longest += std::string(200 - longest.size(), 'x');
    ASSERT_EQ(cq_open(longest.c_str(), &o, &q), CQ_OK) << cq_last_error();
    cq_close(q);
    EXPECT_EQ(cq_unlink(longest.c_str()), CQ_OK);
    EXPECT_EQ(cq_unlink(longest.c_str()), CQ_ENOENT);
    EXPECT_EQ(cq_unlink("bad name"), CQ_EINVAL);
    EXPECT_EQ(cq_unlink(nullptr), CQ_EINVAL);
}

TEST(Options, Validation) {
    std::string name = cqtest::unique_name("opts");
    cq_queue *q = nullptr;
    cq_queue_options o;
    auto reset = [&] {
        cq_queue_options_init(&o);
        o.flags = CQ_CREATE;
    };
    reset();
    o.struct_size = 8;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_EINVAL);
    reset();
    o.struct_size = sizeof o + 8;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_EINVAL);
    reset();
    o.flags = CQ_EXCL;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_EINVAL);
    reset();
    o.flags |= 1u << 20;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_EINVAL);
    reset();
    o.capacity = 0;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_EINVAL);
    reset();
    o.max_message_size = 0;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_EINVAL);
    reset();
    o.max_message_size = CQ_MAX_MESSAGE_SIZE + 1;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_EINVAL);
    reset();
    o.mode = 01777;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_EINVAL);
    reset();
    o.capacity = CQ_MAX_CAPACITY;
    o.max_message_size = CQ_MAX_MESSAGE_SIZE;  // ~72 PB: cannot exist
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_ENOMEM) << cq_last_error();
    // Nothing was left behind by the failures.
    o.flags = 0;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_ENOENT);
    EXPECT_EQ(q, nullptr);
}

TEST_F(Queue, OpenSemantics) {
    std::string name = cqtest::unique_name("sem");
    names_.push_back(name);
    cq_queue_options o;
    cq_queue_options_init(&o);
    cq_queue *q = nullptr;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_ENOENT);
    o.flags = CQ_CREATE | CQ_EXCL;
    o.capacity = 4;
    ASSERT_EQ(cq_open(name.c_str(), &o, &q), CQ_OK);
    open_.push_back(q);
    cq_queue *q2 = nullptr;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q2), CQ_EEXIST);
    // CQ_CREATE without EXCL attaches, and keeps the creator's geometry.
    o.flags = CQ_CREATE;
    o.capacity = 99;
    ASSERT_EQ(cq_open(name.c_str(), &o, &q2), CQ_OK);
    open_.push_back(q2);
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    ASSERT_EQ(cq_stats(q2, &st), CQ_OK);
    EXPECT_EQ(st.capacity, 4u);
    // NULL options: attach, or create with defaults.
    cq_queue *q3 = nullptr;
    ASSERT_EQ(cq_open(name.c_str(), nullptr, &q3), CQ_OK);
    open_.push_back(q3);
    std::string fresh = cqtest::unique_name("dflt");
    names_.push_back(fresh);
    cq_queue *q4 = nullptr;
    ASSERT_EQ(cq_open(fresh.c_str(), nullptr, &q4), CQ_OK);
    open_.push_back(q4);
    ASSERT_EQ(cq_stats(q4, &st), CQ_OK);
    EXPECT_EQ(st.capacity, CQ_DEFAULT_CAPACITY);
    EXPECT_EQ(st.max_message_size, CQ_DEFAULT_MAX_MESSAGE_SIZE);
    EXPECT_EQ(cq_close(nullptr), CQ_OK);
}

TEST_F(Queue, ModeIs0600ByDefault) {
    create();
    struct stat st;
    ASSERT_EQ(::stat(("/dev/shm/" + names_.back()).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::string name = cqtest::unique_name("mode");
    names_.push_back(name);
    cq_queue_options o;
    cq_queue_options_init(&o);
    o.flags = CQ_CREATE;
    o.mode = 0640;
    cq_queue *q = nullptr;
    ASSERT_EQ(cq_open(name.c_str(), &o, &q), CQ_OK);
    open_.push_back(q);
    ASSERT_EQ(::stat(("/dev/shm/" + name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(Queue, FifoFullEmpty) {
    cq_queue *q = create(8, 16);
    for (uint32_t i = 0; i < 8; ++i) ASSERT_EQ(cq_enqueue(q, &i, sizeof i), CQ_OK) << i;
    uint32_t extra = 99;
    EXPECT_EQ(cq_enqueue(q, &extra, sizeof extra), CQ_EFULL);
    EXPECT_NE(std::string(cq_last_error()).find("full"), std::string::npos);
    for (uint32_t i = 0; i < 8; ++i) {
        uint32_t v = 0;
        size_t len = 0;
        ASSERT_EQ(cq_dequeue(q, &v, sizeof v, &len), CQ_OK);
        EXPECT_EQ(len, sizeof v);
        EXPECT_EQ(v, i);
    }
    uint32_t v;
    size_t len;
    EXPECT_EQ(cq_dequeue_wait(q, &v, sizeof v, &len, 0), CQ_ETIMEDOUT);
    EXPECT_EQ(cq_dequeue(q, &v, sizeof v, &len), CQ_EEMPTY);
    EXPECT_STREQ(cq_last_error(), "queue is empty");  // not the previous failure's text
    // Wraps around the arena many times.
    for (uint32_t i = 0; i < 1000; ++i) {
        ASSERT_EQ(cq_enqueue(q, &i, sizeof i), CQ_OK);
        ASSERT_EQ(cq_dequeue(q, &v, sizeof v, &len), CQ_OK);
        ASSERT_EQ(v, i);
    }
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    ASSERT_EQ(cq_stats(q, &st), CQ_OK);
    EXPECT_EQ(st.enqueued, 1008u);
    EXPECT_EQ(st.dequeued, 1008u);
    EXPECT_EQ(st.length, 0u);
    EXPECT_EQ(st.free_nodes, 8u);
    EXPECT_EQ(st.lanes_live, 1u);
    EXPECT_EQ(st.lanes_dead, 0u);
}

TEST_F(Queue, EverySizeFromZeroToMax) {
    const uint32_t max = 300;
    cq_queue *q = create(4, max);
    std::vector<unsigned char> in(max), out(max + 1);
    for (uint32_t n = 0; n <= max; ++n) {
        for (uint32_t i = 0; i < n; ++i) in[i] = static_cast<unsigned char>(n * 31 + i);
        ASSERT_EQ(cq_enqueue(q, n ? in.data() : nullptr, n), CQ_OK) << n;
        size_t len = 12345;
        ASSERT_EQ(cq_dequeue(q, out.data(), out.size(), &len), CQ_OK);
        ASSERT_EQ(len, n);
        ASSERT_EQ(std::memcmp(in.data(), out.data(), n), 0) << n;
    }
    EXPECT_EQ(cq_enqueue(q, in.data(), max + 1), CQ_EMSGSIZE);
    size_t len;
    EXPECT_EQ(cq_dequeue(q, out.data(), out.size(), &len), CQ_EEMPTY);  // nothing stored
}

TEST_F(Queue, OneMebibyteMessages) {
    const uint32_t max = 1u << 20;
    cq_queue *q = create(3, max);
    std::vector<unsigned char> in(max), out(max);
    for (int round = 0; round < 3; ++round) {
        for (uint32_t i = 0; i < max; ++i) in[i] = static_cast<unsigned char>(i * 7 + round);
        ASSERT_EQ(cq_enqueue(q, in.data(), max), CQ_OK);
        size_t len = 0;
        ASSERT_EQ(cq_dequeue(q, out.data(), max, &len), CQ_OK);
        ASSERT_EQ(len, max);
        ASSERT_EQ(in, out);
    }
}

TEST_F(Queue, MsgSizeLeavesMessageQueued) {
    cq_queue *q = create(4, 64);
    const char first[] = "a message of some forty bytes, give or take";
    const char second[] = "next";
    ASSERT_EQ(cq_enqueue(q, first, sizeof first), CQ_OK);
    ASSERT_EQ(cq_enqueue(q, second, sizeof second), CQ_OK);
    char small[8];
    size_t len = 0;
    EXPECT_EQ(cq_dequeue(q, small, sizeof small, &len), CQ_EMSGSIZE);
    EXPECT_EQ(len, sizeof first);
    EXPECT_EQ(cq_dequeue(q, nullptr, 0, &len), CQ_EMSGSIZE);
    char big[64];
    ASSERT_EQ(cq_dequeue(q, big, sizeof big, &len), CQ_OK);
    EXPECT_EQ(len, sizeof first);
    EXPECT_STREQ(big, first);
    ASSERT_EQ(cq_dequeue(q, big, sizeof big, &len), CQ_OK);
    EXPECT_STREQ(big, second);
}

TEST_F(Queue, NullArguments) {
    cq_queue *q = create();
    size_t len;
    char buf[8];
    EXPECT_EQ(cq_enqueue(nullptr, "x", 1), CQ_EINVAL);
    EXPECT_EQ(cq_enqueue(q, nullptr, 1), CQ_EINVAL);
    EXPECT_EQ(cq_dequeue(nullptr, buf, 8, &len), CQ_EINVAL);
    EXPECT_EQ(cq_dequeue(q, nullptr, 8, &len), CQ_EINVAL);
    EXPECT_EQ(cq_dequeue(q, buf, 8, nullptr), CQ_EINVAL);
    EXPECT_EQ(cq_enqueue_wait(nullptr, "x", 1, 0), CQ_EINVAL);
    EXPECT_EQ(cq_dequeue_wait(q, buf, 8, nullptr, 0), CQ_EINVAL);
    EXPECT_EQ(cq_enqueue_batch(q, nullptr, 1), CQ_EINVAL);
    EXPECT_EQ(cq_dequeue_batch(q, nullptr, 1), CQ_EINVAL);
    cq_iov iov{"x", 1};
    EXPECT_EQ(cq_enqueue_batch(q, &iov, 0), CQ_EINVAL);
    cq_iov bad{nullptr, 3};
    EXPECT_EQ(cq_enqueue_batch(q, &bad, 1), CQ_EINVAL);
    EXPECT_EQ(cq_stats(q, nullptr), CQ_EINVAL);
    cq_queue_stats st{};
    st.struct_size = 4;
    EXPECT_EQ(cq_stats(q, &st), CQ_EINVAL);
    EXPECT_EQ(cq_recover(nullptr, nullptr), CQ_EINVAL);
    EXPECT_EQ(cq_dequeue(q, buf, 8, &len), CQ_EEMPTY);  // nothing was enqueued
}

TEST_F(Queue, StatsSmallerStructOnlyFillsWhatFits) {
    cq_queue *q = create(8);
    ASSERT_EQ(cq_enqueue(q, "x", 1), CQ_OK);
    struct {
        cq_queue_stats s;
        uint64_t canary;
    } v;
    std::memset(&v, 0x5A, sizeof v);
    v.s.struct_size = offsetof(cq_queue_stats, reclaimed) + sizeof(uint64_t);
    ASSERT_EQ(cq_stats(q, &v.s), CQ_OK);
    EXPECT_EQ(v.s.length, 1u);
    EXPECT_EQ(v.s.recoveries, 0x5A5A5A5A5A5A5A5Aull);  // beyond struct_size: untouched
    EXPECT_EQ(v.canary, 0x5A5A5A5A5A5A5A5Aull);
}

TEST_F(Queue, Batches) {
    cq_queue *q = create(10, 16);
    std::vector<uint32_t> vals(12);
    std::vector<cq_iov> iov(12);
    for (uint32_t i = 0; i < 12; ++i) {
        vals[i] = i;
        iov[i] = cq_iov{&vals[i], sizeof(uint32_t)};
    }
    EXPECT_EQ(cq_enqueue_batch(q, iov.data(), 4), 4);
    // Only 6 nodes are left: the batch enqueues the prefix that fits.
    EXPECT_EQ(cq_enqueue_batch(q, iov.data() + 4, 8), 6);
    EXPECT_EQ(cq_enqueue_batch(q, iov.data(), 1), CQ_EFULL);
    // An oversized message refuses the whole batch.
    std::vector<char> huge(17);
    cq_iov mixed[2] = {{&vals[0], 4}, {huge.data(), huge.size()}};
    EXPECT_EQ(cq_enqueue_batch(q, mixed, 2), CQ_EMSGSIZE);

    uint32_t out[12] = {};
    cq_rbuf bufs[12];
    for (int i = 0; i < 12; ++i) bufs[i] = cq_rbuf{&out[i], sizeof(uint32_t), 0};
    bufs[3].cap = 2;  // too small: the batch stops before it
    int got = cq_dequeue_batch(q, bufs, 12);
    ASSERT_EQ(got, 3);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(out[i], static_cast<uint32_t>(i));
        EXPECT_EQ(bufs[i].len, sizeof(uint32_t));
    }
    got = cq_dequeue_batch(q, bufs + 3, 1);
    EXPECT_EQ(got, CQ_EMSGSIZE);
    EXPECT_EQ(bufs[3].len, sizeof(uint32_t));
    bufs[3].cap = sizeof(uint32_t);
    got = cq_dequeue_batch(q, bufs + 3, 9);
    ASSERT_EQ(got, 7);
    for (int i = 3; i < 10; ++i) EXPECT_EQ(out[i], static_cast<uint32_t>(i));
    EXPECT_EQ(cq_dequeue_batch(q, bufs, 4), CQ_EEMPTY);
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    ASSERT_EQ(cq_stats(q, &st), CQ_OK);
    EXPECT_EQ(st.free_nodes, 10u);
}

TEST_F(Queue, LargeBatchesCrossTheClaimLimit) {
    cq_queue *q = create(1000, 8);
    std::vector<uint64_t> vals(1000);
    std::vector<cq_iov> iov(1000);
    for (uint64_t i = 0; i < 1000; ++i) {
        vals[i] = i;
        iov[i] = cq_iov{&vals[i], 8};
    }
    ASSERT_EQ(cq_enqueue_batch(q, iov.data(), 1000), 1000);
    std::vector<uint64_t> out(1000);
    std::vector<cq_rbuf> bufs(1000);
    for (int i = 0; i < 1000; ++i) bufs[i] = cq_rbuf{&out[i], 8, 0};
    ASSERT_EQ(cq_dequeue_batch(q, bufs.data(), 1000), 1000);
    for (uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(out[i], i);
}

TEST_F(Queue, ABlockedProducerGetsTheNodeADequeueLeftPending) {
    // Capacity 1: the dequeue that empties the queue cannot prove yet that
    // tail passed the node it unlinked (no link after it), so that node is
    // its lane's pending run, and the producer it wakes must take it. A
    // producer that had just looked in vain must look again when woken,
    // or it sleeps until its timeout with a node there for it.
    cq_queue *q = create(1, 8);
    char buf[8];
    size_t len;
    for (int round = 0; round < 300; ++round) {
        ASSERT_EQ(cq_enqueue(q, "x", 1), CQ_OK);
        std::thread t([&, round] {
            const auto until =
                std::chrono::steady_clock::now() + std::chrono::microseconds(round % 40);
            while (std::chrono::steady_clock::now() < until) {
            }
            char b[8];
            size_t l;
            EXPECT_EQ(cq_dequeue_wait(q, b, 8, &l, CQ_WAIT_FOREVER), CQ_OK);
        });
        ASSERT_EQ(cq_enqueue_wait(q, "y", 1, 2'000'000'000), CQ_OK) << "round " << round;
        t.join();
        ASSERT_EQ(cq_dequeue(q, buf, 8, &len), CQ_OK);
        EXPECT_EQ(buf[0], 'y');
    }
}

TEST_F(Queue, ABatchTakesEveryFreeNodeWhereverItWaits) {
    // A batch enqueues the longest prefix for which free nodes exist, also
    // when they are spread over the global stack, another lane's stack and
    // another lane's pending run (a consumer thread has its own lane).
    cq_queue *q = create(256, 8);
    for (uint32_t round = 1; round <= 5; ++round) {
        std::vector<cq_iov> msgs(256, cq_iov{"m", 1});
        ASSERT_EQ(cq_enqueue_batch(q, msgs.data(), msgs.size()), 256) << cq_last_error();
        // Frees `round` nodes in another lane, singly: some end in its
        // stack, the last ones in its pending run.
        std::thread t([&] {
            char b[8];
            size_t l;
            for (uint32_t i = 0; i < round + 2; ++i) EXPECT_EQ(cq_dequeue(q, b, 8, &l), CQ_OK);
        });
        t.join();
        EXPECT_EQ(cq_enqueue_batch(q, msgs.data(), msgs.size()), static_cast<int>(round + 2))
            << "round " << round << ": " << cq_last_error();
        EXPECT_EQ(cq_enqueue(q, "m", 1), CQ_EFULL);
        char buf[8];
        cq_rbuf rb[256];
        for (cq_rbuf &r : rb) r = {buf, sizeof buf, 0};
        int got = 0;
        while (got < 256) {
            const int r = cq_dequeue_batch(q, rb, 256 - got);
            ASSERT_GT(r, 0) << cq_last_error();
            got += r;
        }
    }
}

TEST_F(Queue, WhatAStealTakesBeyondItsNeedStaysFindable) {
    // A producer that finds no free node in its own lane or the global stack
    // takes another lane's whole stack and keeps what it does not need on
    // its own. Those nodes must stay free for everyone: a third thread, with
    // a lane of its own, then fills the queue to its capacity exactly.
    constexpr uint32_t kCap = 4096;  // lane stacks of up to 64 nodes
    cq_queue *q = create(kCap, 8);
    for (uint32_t freed : {2u, 9u, 40u, 63u}) {
        // Singly: each link is then hard, and proves that tail passed the
        // nodes before it, so the consumer frees them onto its own stack at
        // once instead of keeping them as a pending run.
        for (uint32_t i = 0; i < kCap; ++i) ASSERT_EQ(cq_enqueue(q, "m", 1), CQ_OK);
        std::vector<cq_iov> msgs(kCap, cq_iov{"m", 1});
        // The consumer stays alive until the producers are done: a thread's
        // lane is released when it exits, and the producer thread could
        // claim it and find the nodes on its own stack, stealing nothing.
        std::atomic<int> step{0};
        std::thread consumer([&] {
            char b[8];
            size_t l;
            for (uint32_t i = 0; i < freed; ++i) EXPECT_EQ(cq_dequeue(q, b, 8, &l), CQ_OK);
            step = 1;
            while (step != 2) std::this_thread::yield();
        });
        while (step != 1) std::this_thread::yield();
        EXPECT_EQ(cq_enqueue(q, "s", 1), CQ_OK) << cq_last_error();
        int more = 0;
        std::thread producer([&] { more = cq_enqueue_batch(q, msgs.data(), msgs.size()); });
        producer.join();
        step = 2;
        consumer.join();
        EXPECT_EQ(more, static_cast<int>(freed - 1)) << freed << " freed: " << cq_last_error();
        EXPECT_EQ(cq_enqueue(q, "m", 1), CQ_EFULL);
        cq_queue_stats st = CQ_QUEUE_STATS_INIT;
        ASSERT_EQ(cq_stats(q, &st), CQ_OK);
        EXPECT_EQ(st.free_nodes + st.length, uint64_t{kCap}) << freed << " freed";
        char buf[8];
        cq_rbuf rb[512];
        for (cq_rbuf &r : rb) r = {buf, sizeof buf, 0};
        for (uint32_t got = 0; got < kCap;) {
            const int r = cq_dequeue_batch(q, rb, std::min<uint32_t>(512, kCap - got));
            ASSERT_GT(r, 0) << cq_last_error();
            got += static_cast<uint32_t>(r);
        }
    }
}

TEST_F(Queue, WaitTimesOutAndWakes) {
    cq_queue *q = create(2, 8);
    char buf[8];
    size_t len;
    EXPECT_EQ(cq_dequeue_wait(q, buf, 8, &len, 0), CQ_ETIMEDOUT);
    EXPECT_EQ(cq_dequeue_wait(q, buf, 8, &len, 5'000'000), CQ_ETIMEDOUT);
    ASSERT_EQ(cq_enqueue(q, "a", 1), CQ_OK);
    ASSERT_EQ(cq_enqueue(q, "b", 1), CQ_OK);
    EXPECT_EQ(cq_enqueue_wait(q, "c", 1, 0), CQ_ETIMEDOUT);
    EXPECT_EQ(cq_enqueue_wait(q, "c", 1, 5'000'000), CQ_ETIMEDOUT);
    // A blocked producer is woken by a dequeue in another thread.
    std::thread t([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        char b[8];
        size_t l;
        EXPECT_EQ(cq_dequeue(q, b, 8, &l), CQ_OK);
    });
    EXPECT_EQ(cq_enqueue_wait(q, "c", 1, CQ_WAIT_FOREVER), CQ_OK);
    t.join();
    for (char want : {'b', 'c'}) {
        ASSERT_EQ(cq_dequeue_wait(q, buf, 8, &len, CQ_WAIT_FOREVER), CQ_OK);
        EXPECT_EQ(buf[0], want);
    }
    // A blocked consumer is woken by an enqueue in another thread.
    std::thread p([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        EXPECT_EQ(cq_enqueue(q, "d", 1), CQ_OK);
    });
    EXPECT_EQ(cq_dequeue_wait(q, buf, 8, &len, CQ_WAIT_FOREVER), CQ_OK);
    EXPECT_EQ(buf[0], 'd');
    p.join();
}

// Runs wait() on a thread and calls interrupt() until it returned (the
// interrupt must land while the wait is in progress; one that comes before
// it starts does not end it). Returns what wait() returned, and
// cq_last_error() on its thread after it.
template <typename Wait, typename Interrupt>
std::pair<int, std::string> interrupted_wait(Wait wait, Interrupt interrupt) {
    std::atomic<bool> done{false};
    std::pair<int, std::string> out;
    std::thread t([&] {
        out.first = wait();
        out.second = cq_last_error();
        done = true;
    });
    for (int i = 0; i < 2000 && !done; ++i) {
        EXPECT_EQ(interrupt(), CQ_OK);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    t.join();
    return out;
}

TEST_F(Queue, InterruptEndsWaitsInProgressAndNothingElse) {
    cq_queue *q = create(1, 8);
    char buf[8];
    size_t len;
    EXPECT_EQ(cq_interrupt(nullptr), CQ_EINVAL);
    // Before any wait: later waits are not affected.
    ASSERT_EQ(cq_interrupt(q), CQ_OK);
    EXPECT_EQ(cq_dequeue_wait(q, buf, 8, &len, 5'000'000), CQ_ETIMEDOUT);
    // A consumer waiting on an empty queue (20 s: without the interrupt,
    // the test fails with CQ_ETIMEDOUT rather than hanging).
    constexpr int64_t kLong = 20'000'000'000;
    auto [rc, text] = interrupted_wait([&] { return cq_dequeue_wait(q, buf, 8, &len, kLong); },
                                       [&] { return cq_interrupt(q); });
    EXPECT_EQ(rc, CQ_ECANCELED);
    EXPECT_NE(text.find("cq_interrupt"), std::string::npos) << text;
    // A producer waiting on a full queue.
    ASSERT_EQ(cq_enqueue(q, "a", 1), CQ_OK);
    auto full = interrupted_wait([&] { return cq_enqueue_wait(q, "b", 1, kLong); },
                                 [&] { return cq_interrupt(q); });
    EXPECT_EQ(full.first, CQ_ECANCELED) << full.second;
    // Nothing was lost or added, and the queue works on.
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    ASSERT_EQ(cq_stats(q, &st), CQ_OK);
    EXPECT_EQ(st.length, 1u);
    ASSERT_EQ(cq_dequeue_wait(q, buf, 8, &len, CQ_WAIT_FOREVER), CQ_OK);
    EXPECT_EQ(buf[0], 'a');
    EXPECT_EQ(cq_dequeue_wait(q, buf, 8, &len, 5'000'000), CQ_ETIMEDOUT);
}

TEST_F(Queue, InterruptLeavesOtherProcessesWaiting) {
    cq_queue *q = create(4, 8);
    const std::string name = names_.back();
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
        // The child's own handle waits; the parent's interrupts must not end it.
        ::close(ready[0]);
        cq_queue_options o = CQ_QUEUE_OPTIONS_INIT;
        cq_queue *c = nullptr;
        if (cq_open(name.c_str(), &o, &c) != CQ_OK) ::_exit(2);
        (void)!::write(ready[1], "r", 1);
        char b[8];
        size_t l;
        int r = cq_dequeue_wait(c, b, 8, &l, 10'000'000'000);
        ::_exit(r == CQ_OK && l == 1 && b[0] == 'z' ? 0 : 1);
    }
    ::close(ready[1]);
    char r;
    ASSERT_EQ(::read(ready[0], &r, 1), 1);
    ::close(ready[0]);
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(cq_interrupt(q), CQ_OK);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(cq_enqueue(q, "z", 1), CQ_OK);
    int st = cqtest::wait_status(pid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0) << "the child's wait ended without the message";
}

TEST_F(Queue, FileBackedPersistsAcrossOpens) {
    cqtest::TempDir dir;
    std::string path = dir.file("q.cq");
    cq_queue_options o;
    cq_queue_options_init(&o);
    o.flags = CQ_CREATE;
    o.capacity = 4;
    cq_queue *q = nullptr;
    ASSERT_EQ(cq_open(path.c_str(), &o, &q), CQ_OK) << cq_last_error();
    ASSERT_EQ(cq_enqueue(q, "kept", 4), CQ_OK);
    cq_close(q);
    o.flags = 0;
    ASSERT_EQ(cq_open(path.c_str(), &o, &q), CQ_OK);
    char buf[8];
    size_t len;
    ASSERT_EQ(cq_dequeue(q, buf, sizeof buf, &len), CQ_OK);
    EXPECT_EQ(std::string(buf, len), "kept");
    cq_close(q);
    EXPECT_EQ(cq_unlink(path.c_str()), CQ_OK);
}

TEST_F(Queue, TwoHandlesInOneProcess) {
    cq_queue *a = create(4);
    cq_queue *b = nullptr;
    ASSERT_EQ(cq_open(names_.back().c_str(), nullptr, &b), CQ_OK);
    open_.push_back(b);
    ASSERT_EQ(cq_enqueue(a, "x", 1), CQ_OK);
    char buf[4];
    size_t len;
    ASSERT_EQ(cq_dequeue(b, buf, 4, &len), CQ_OK);
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    ASSERT_EQ(cq_stats(a, &st), CQ_OK);
    EXPECT_EQ(st.lanes_live, 2u);
    uint64_t reclaimed = 99;
    EXPECT_EQ(cq_recover(a, &reclaimed), CQ_OK) << cq_last_error();
    EXPECT_EQ(reclaimed, 0u);
}

TEST_F(Queue, NodesFreedByAnotherThreadAreFoundWhenFull) {
    // 640 messages: a lane keeps up to 10 freed nodes before handing them
    // to the global stack, so a producer must find (steal) them there.
    cq_queue *q = create(640, 8);
    for (uint32_t i = 0; i < 640; ++i) ASSERT_EQ(cq_enqueue(q, &i, 4), CQ_OK);
    EXPECT_EQ(cq_enqueue(q, "x", 1), CQ_EFULL);
    std::thread consumer([&] {
        char buf[8];
        size_t len;
        for (int i = 0; i < 5; ++i) ASSERT_EQ(cq_dequeue(q, buf, sizeof buf, &len), CQ_OK);
    });
    consumer.join();
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    ASSERT_EQ(cq_stats(q, &st), CQ_OK);
    EXPECT_EQ(st.free_nodes, 5u);  // counted wherever they sit
    EXPECT_EQ(st.length, 635u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(cq_enqueue(q, "y", 1), CQ_OK) << i;
    EXPECT_EQ(cq_enqueue(q, "z", 1), CQ_EFULL);
    uint64_t reclaimed = 1;
    EXPECT_EQ(cq_recover(q, &reclaimed), CQ_OK);
    EXPECT_EQ(reclaimed, 0u);  // nodes in lane stacks are not orphans
}

TEST_F(Queue, ThreadsComeAndGoWithoutExhaustingLanes) {
    cq_queue *q = create(4);
    for (int i = 0; i < 700; ++i) {  // more threads than the 512 lanes
        std::thread t([&] {
            ASSERT_EQ(cq_enqueue(q, "x", 1), CQ_OK) << cq_last_error();
            char buf[4];
            size_t len;
            ASSERT_EQ(cq_dequeue(q, buf, 4, &len), CQ_OK);
        });
        t.join();
    }
}

TEST_F(Queue, HandleRefusedInForkedChild) {
    cq_queue *q = create(4);
    pid_t pid = ::fork();
    if (pid == 0) {
        int r = cq_enqueue(q, "x", 1);
        ::_exit(r == CQ_EPERM ? 0 : 1);
    }
    int st = cqtest::wait_status(pid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
    EXPECT_EQ(cq_enqueue(q, "x", 1), CQ_OK);  // the parent's handle still works
}

// A child that inherits the handle and exits normally (exit(): thread-local
// and static destructors run) or closes its copy must leave the parent's
// lanes alone: they share its lock (one open file description). Before, the
// child's exit unlocked the parent's lane and cleared its owner, and the
// next process to open the queue claimed the same lane.
TEST_F(Queue, ForkedChildsExitOrCloseLeavesTheParentsLanes) {
    cq_queue *q = create(4);
    ASSERT_EQ(cq_enqueue(q, "x", 1), CQ_OK);  // this thread now holds a lane
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    ASSERT_EQ(cq_stats(q, &st), CQ_OK);
    const uint32_t live = st.lanes_live;
    ASSERT_GE(live, 1u);
    for (bool close_first : {false, true}) {
        SCOPED_TRACE(close_first);
        std::fflush(nullptr);  // the child's exit() flushes its copy of stdio
        pid_t pid = ::fork();
        if (pid == 0) {
            if (close_first && cq_close(q) != CQ_OK) ::_exit(2);
            std::exit(0);
        }
        int status = cqtest::wait_status(pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
        st = CQ_QUEUE_STATS_INIT;
        ASSERT_EQ(cq_stats(q, &st), CQ_OK);
        EXPECT_EQ(st.lanes_live, live);
        EXPECT_EQ(st.lanes_dead, 0u);
        // Another process's handle gets a lane of its own.
        pid = ::fork();
        if (pid == 0) {
            cq_queue *q2 = nullptr;
            if (cq_open(names_.back().c_str(), nullptr, &q2) != CQ_OK) ::_exit(3);
            if (cq_enqueue(q2, "y", 1) != CQ_OK) ::_exit(4);
            cq_queue_stats s2 = CQ_QUEUE_STATS_INIT;
            if (cq_stats(q2, &s2) != CQ_OK) ::_exit(5);
            const bool own_lane = s2.lanes_live == live + 1;
            cq_close(q2);  // released, not left dead for the next round
            ::_exit(own_lane ? 0 : 6);
        }
        status = cqtest::wait_status(pid);
        ASSERT_TRUE(WIFEXITED(status));
        EXPECT_EQ(WEXITSTATUS(status), 0);
        char buf[8];
        size_t len;
        while (cq_dequeue(q, buf, sizeof buf, &len) == CQ_OK) {
        }
        ASSERT_EQ(cq_enqueue(q, "x", 1), CQ_OK);
    }
}

}  // namespace
