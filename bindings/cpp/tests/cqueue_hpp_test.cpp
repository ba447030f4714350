// Tests of the C++ wrapper (bindings/cpp/include/cqueue/cqueue.hpp) against the shared library.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cqueue/cqueue.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <latch>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

std::string unique_name(const char *what) {
    static std::atomic<int> n{0};
    return "cqhpp-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(n++);
}

// Unlinks the queue name at the end of a test.
struct Named {
    std::string name;
    explicit Named(const char *what) : name(unique_name(what)) {}
    ~Named() { (void)cqueue::Queue::try_unlink(name); }
};

std::string as_string(const std::vector<std::byte> &v) {
    return std::string(reinterpret_cast<const char *>(v.data()), v.size());
}

TEST(Queue, RoundTripInOrder) {
    Named n("rt");
    cqueue::Queue q(n.name, cqueue::QueueOptions{}.create().capacity(8).max_message_size(32));
    EXPECT_EQ(q.max_message_size(), 32u);
    q.enqueue("one");
    q.enqueue(std::as_bytes(std::span{"two", 3}));
    EXPECT_EQ(as_string(q.dequeue()), "one");
    EXPECT_EQ(as_string(q.dequeue_wait(1s)), "two");
    auto s = q.stats();
    EXPECT_EQ(s.enqueued, 2u);
    EXPECT_EQ(s.dequeued, 2u);
    EXPECT_EQ(s.length, 0u);
}

TEST(Queue, ErrorsCarryTheCode) {
    Named n("err");
    try {
        cqueue::Queue q(n.name);  // no create flag: must not exist
        FAIL() << "opened a queue that does not exist";
    } catch (const cqueue::Error &e) {
        EXPECT_EQ(e.code(), CQ_ENOENT);
        EXPECT_NE(std::string(e.what()).find(cq_strerror(CQ_ENOENT)), std::string::npos);
        EXPECT_NE(std::string(e.what()).find(n.name), std::string::npos)
            << "detail names the queue";
    }
    auto r = cqueue::Queue::try_open(n.name);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), CQ_ENOENT);
    EXPECT_THROW((void)r.value(), cqueue::Error);

    cqueue::Queue q(n.name, cqueue::QueueOptions{}.create().capacity(2).max_message_size(4));
    EXPECT_THROW(cqueue::Queue(n.name, cqueue::QueueOptions{}.create(true)), cqueue::Error);
    try {
        q.dequeue();
        FAIL();
    } catch (const cqueue::Error &e) {
        EXPECT_EQ(e.code(), CQ_EEMPTY);
    }
    try {
        q.enqueue("too long");
        FAIL();
    } catch (const cqueue::Error &e) {
        EXPECT_EQ(e.code(), CQ_EMSGSIZE);
    }
}

TEST(Queue, TryCallsReportFullAndEmptyWithoutThrowing) {
    Named n("try");
    cqueue::Queue q(n.name, cqueue::QueueOptions{}.create().capacity(2).max_message_size(8));
    EXPECT_TRUE(q.try_enqueue("a").ok());
    EXPECT_TRUE(q.try_enqueue("b").ok());
    auto full = q.try_enqueue("c");
    EXPECT_FALSE(full);
    EXPECT_EQ(full.code(), CQ_EFULL);

    auto too_small = q.try_dequeue(std::span<std::byte>{});
    EXPECT_EQ(too_small.code(), CQ_EMSGSIZE);

    auto a = q.try_dequeue();
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(as_string(*a), "a");
    std::byte buf[8];
    auto b = q.try_dequeue(buf);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b.value(), 1u);
    EXPECT_EQ(buf[0], std::byte{'b'});
    EXPECT_EQ(q.try_dequeue().code(), CQ_EEMPTY);
}

TEST(Queue, WaitTimesOut) {
    Named n("wait");
    cqueue::Queue q(n.name, cqueue::QueueOptions{}.create().capacity(1).max_message_size(8));
    auto t0 = std::chrono::steady_clock::now();
    try {
        q.dequeue_wait(30ms);
        FAIL();
    } catch (const cqueue::Error &e) {
        EXPECT_EQ(e.code(), CQ_ETIMEDOUT);
    }
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 25ms);
    q.enqueue("x");
    try {
        q.enqueue_wait(std::as_bytes(std::span{"y", 1}), 10ms);
        FAIL();
    } catch (const cqueue::Error &e) {
        EXPECT_EQ(e.code(), CQ_ETIMEDOUT);
    }
}

// Runs wait() on a thread, calling interrupt() until it returned; the error code
// it threw (0 if none).
template <class W, class I>
int interrupted(W wait, I interrupt) {
    std::atomic<bool> done{false};
    int code = 0;
    std::thread t([&] {
        try {
            wait();
        } catch (const cqueue::Error &e) {
            code = e.code();
        }
        done = true;
    });
    for (int i = 0; i < 2000 && !done; ++i) {
        interrupt();
        std::this_thread::sleep_for(5ms);
    }
    t.join();
    return code;
}

TEST(Queue, InterruptEndsAWaitInAnotherThread) {
    Named n("intr");
    cqueue::Queue q(n.name, cqueue::QueueOptions{}.create().capacity(1).max_message_size(8));
    // 20 s: without the interrupt, CQ_ETIMEDOUT instead of a hang.
    EXPECT_EQ(interrupted([&] { q.dequeue_wait(20s); }, [&] { q.interrupt(); }), CQ_ECANCELED);
    q.enqueue("x");
    EXPECT_EQ(interrupted([&] { q.enqueue_wait("y", 20s); }, [&] { q.interrupt(); }), CQ_ECANCELED);
    EXPECT_EQ(q.dequeue_wait(5s).size(), 1u);  // later waits are not affected
}

TEST(Queue, MoveTransfersOwnershipAndBatchWorks) {
    Named n("move");
    cqueue::Queue a(n.name, cqueue::QueueOptions{}.create().capacity(8).max_message_size(8));
    cqueue::Queue b = std::move(a);
    EXPECT_EQ(a.native_handle(), nullptr);
    std::string m1 = "p", m2 = "qq";
    std::vector<std::span<const std::byte>> msgs{std::as_bytes(std::span{m1}),
                                                 std::as_bytes(std::span{m2})};
    EXPECT_EQ(b.enqueue_batch(msgs), 2u);
    EXPECT_EQ(as_string(b.dequeue()), "p");
    EXPECT_EQ(as_string(b.dequeue()), "qq");
    b.close();
    EXPECT_EQ(b.native_handle(), nullptr);
}

TEST(Queue, ThreadsShareOneHandleEveryMessageOnce) {
    Named n("mt");
    cqueue::Queue q(n.name, cqueue::QueueOptions{}.create().capacity(64).max_message_size(16));
    constexpr int kPerProducer = 2000;
    std::vector<std::thread> threads;
    std::vector<std::vector<int>> got(2);
    for (int p = 0; p < 2; ++p)
        threads.emplace_back([&, p] {
            for (int i = 0; i < kPerProducer; ++i) {
                int v = p * kPerProducer + i;
                q.enqueue_wait(std::as_bytes(std::span{&v, 1}), 5s);
            }
        });
    for (int c = 0; c < 2; ++c)
        threads.emplace_back([&, c] {
            for (int i = 0; i < kPerProducer; ++i) {
                int v;
                auto len = q.dequeue_wait(std::as_writable_bytes(std::span{&v, 1}), 5s);
                ASSERT_EQ(len, sizeof v);
                got[c].push_back(v);
            }
        });
    for (auto &t : threads) t.join();
    std::set<int> all(got[0].begin(), got[0].end());
    all.insert(got[1].begin(), got[1].end());
    EXPECT_EQ(all.size(), 2u * kPerProducer);
    EXPECT_EQ(got[0].size() + got[1].size(), 2u * kPerProducer);
}

TEST(Pool, LambdasRunAndShutdownDrains) {
    cqueue::Pool pool(cqueue::PoolOptions{}.workers(2).queue_capacity(1024));
    std::atomic<int> sum{0};
    for (int i = 1; i <= 100; ++i) pool.submit([&sum, i] { sum += i; });
    EXPECT_TRUE(pool.shutdown(5s));
    EXPECT_EQ(sum.load(), 5050);
    auto s = pool.stats();
    EXPECT_EQ(s.completed, 100u);
    EXPECT_EQ(s.failed, 0u);
    // After shutdown the pool refuses work with CQ_ECLOSED.
    auto r = pool.try_submit([] {});
    EXPECT_EQ(r.code(), CQ_ECLOSED);
    try {
        pool.submit([] {});
        FAIL();
    } catch (const cqueue::Error &e) {
        EXPECT_EQ(e.code(), CQ_ECLOSED);
    }
}

TEST(Pool, ExceptionsAreCaughtAtTheTrampolineAndReported) {
    cqueue::Pool pool(cqueue::PoolOptions{}.workers(1));
    std::atomic<int> status{1};
    std::string message;
    cqueue::JobOptions o;
    o.on_done = [&](const cqueue::JobOutcome &out) {
        try {
            if (out.exception) std::rethrow_exception(out.exception);
        } catch (const std::runtime_error &e) {
            message = e.what();
        }
        status = out.status;
    };
    pool.submit([] { throw std::runtime_error("job broke"); }, std::move(o));
    pool.submit([] { throw 42; });  // not a std::exception, no on_done
    EXPECT_TRUE(pool.shutdown(5s));
    EXPECT_EQ(status.load(), CQ_EIO);
    EXPECT_EQ(message, "job broke");
    EXPECT_EQ(pool.stats().failed, 2u);
}

TEST(Pool, CancelledTokenSkipsTheJob) {
    cqueue::Pool pool(cqueue::PoolOptions{}.workers(1));
    cqueue::CancelToken token;
    token.cancel();
    EXPECT_TRUE(token.cancelled());
    std::atomic<bool> ran{false};
    std::atomic<int> status{1};
    cqueue::JobOptions o;
    o.cancel = &token;
    o.on_done = [&](const cqueue::JobOutcome &out) { status = out.status; };
    pool.submit([&] { ran = true; }, std::move(o));
    EXPECT_TRUE(pool.shutdown(5s));
    EXPECT_FALSE(ran.load());
    EXPECT_EQ(status.load(), CQ_ECANCELED);
}

TEST(Pool, FullQueueAndDestructorCancelsQueuedJobs) {
    std::atomic<int> cancelled{0};
    std::latch started(1), release(1);
    std::thread releaser;
    {
        cqueue::Pool pool(cqueue::PoolOptions{}.workers(1).queue_capacity(1));
        auto s = pool.stats();
        pool.submit([&] {
            started.count_down();
            release.wait();
        });
        started.wait();  // the worker is busy; the queue has room for queue_capacity jobs
        size_t accepted = 0;
        for (;;) {
            cqueue::JobOptions o;
            o.on_done = [&](const cqueue::JobOutcome &out) {
                if (out.status == CQ_ECANCELED) ++cancelled;
            };
            auto r = pool.try_submit([] {}, std::move(o));
            if (!r) {
                EXPECT_EQ(r.code(), CQ_EFULL);
                break;
            }
            ++accepted;
            ASSERT_LE(accepted, size_t{s.queue_capacity} * 4) << "never full";
        }
        EXPECT_GE(accepted, 1u);
        releaser = std::thread([&] {
            std::this_thread::sleep_for(20ms);
            release.count_down();
        });
        // ~Pool: shutdown(0) cancels what is queued once the running job returns.
    }
    releaser.join();
    EXPECT_GE(cancelled.load(), 1);
}

TEST(Pool, AttachedQueueMessagesReachTheHandler) {
    Named n("attach");
    cqueue::Queue q(n.name, cqueue::QueueOptions{}.create().capacity(256).max_message_size(16));
    std::atomic<int> handled{0}, bytes{0};
    {
        cqueue::Pool pool(cqueue::PoolOptions{}.workers(2));
        pool.attach_queue(q, [&](std::span<const std::byte> m) {
            if (m.size() == 4 && std::memcmp(m.data(), "boom", 4) == 0)
                throw std::runtime_error("bad message");
            bytes += static_cast<int>(m.size());
            ++handled;
        });
        // A second queue is refused: one per pool.
        Named n2("attach2");
        cqueue::Queue q2(n2.name, cqueue::QueueOptions{}.create().capacity(4));
        try {
            pool.attach_queue(q2, [](std::span<const std::byte>) {});
            FAIL() << "second queue attached";
        } catch (const cqueue::Error &e) {
            EXPECT_EQ(e.code(), CQ_EINVAL);
        }
        for (int i = 0; i < 100; ++i) q.enqueue_wait("msg", 5s);
        q.enqueue_wait("boom", 5s);
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while ((handled < 100 || pool.handler_failures() < 1) &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
        EXPECT_EQ(handled.load(), 100);
        EXPECT_EQ(bytes.load(), 300);
        EXPECT_EQ(pool.handler_failures(), 1u);
        EXPECT_TRUE(pool.shutdown(5s));
    }
    EXPECT_EQ(q.stats().length, 0u);
}

// ---- broker -----------------------------------------------------------------------

// A fresh broker directory, removed at the end of a test.
struct TempDir {
    std::string path;
    TempDir() {
        std::string t = (std::filesystem::temp_directory_path() / "cqhpp-broker-XXXXXX").string();
        if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
        path = t;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

TEST(Broker, PublishReturnsOffsetsAndPollDeliversInOrder) {
    TempDir d;
    cqueue::Broker b(d.path);
    auto sub = b.subscribe(cqueue::SubscribeOptions("orders.>").earliest());
    EXPECT_EQ(b.publish("orders.eu", "zero"), 0u);
    EXPECT_EQ(b.publish("orders.eu", std::as_bytes(std::span{"one", 3})), 1u);
    EXPECT_EQ(b.publish("orders.us", ""), 0u) << "offsets are per topic";
    std::vector<std::string> eu;
    int us = 0;
    for (int i = 0; i < 3; ++i) {
        auto m = sub.poll(5s);
        ASSERT_TRUE(m);
        if (m->topic == "orders.eu") {
            EXPECT_EQ(m->offset, eu.size());
            eu.emplace_back(m->text());
        } else {
            EXPECT_EQ(m->topic, "orders.us");
            EXPECT_EQ(m->data.size(), 0u);
            ++us;
        }
        EXPECT_GT(m->timestamp_ns, 0);
    }
    EXPECT_EQ(eu, (std::vector<std::string>{"zero", "one"}));
    EXPECT_EQ(us, 1);
    EXPECT_FALSE(sub.poll(10ms)) << "nothing more: nullopt on timeout";
    auto r = sub.try_poll(0ms);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.code(), CQ_ETIMEDOUT);
    auto topics = b.topics();
    std::sort(topics.begin(), topics.end());
    EXPECT_EQ(topics, (std::vector<std::string>{"orders.eu", "orders.us"}));
    EXPECT_EQ(b.stats().published, 3u);
    EXPECT_NE(b.metrics().find("orders"), std::string::npos);
}

TEST(Broker, ErrorsCarryTheCode) {
    TempDir d;
    cqueue::Broker b(d.path);
    try {
        b.publish("bad topic!", "x");
        FAIL() << "published to an invalid topic";
    } catch (const cqueue::Error &e) {
        EXPECT_EQ(e.code(), CQ_EINVAL);
    }
    auto r = b.try_publish("", "x");
    EXPECT_EQ(r.code(), CQ_EINVAL);
    auto s = b.try_subscribe(cqueue::SubscribeOptions("a.b").durable("bad id!"));
    EXPECT_EQ(s.code(), CQ_EINVAL);
}

TEST(Broker, BatchPublishHasConsecutiveOffsets) {
    TempDir d;
    cqueue::Broker b(d.path);
    b.publish("t", "first");
    std::vector<std::string> bodies{"a", "bb", "ccc", "dddd"};
    std::vector<std::span<const std::byte>> spans;
    for (auto &x : bodies) spans.push_back(std::as_bytes(std::span{x}));
    auto res = b.publish_batch("t", spans);
    EXPECT_EQ(res.first_offset, 1u);
    EXPECT_EQ(res.count, 4u);
    auto sub = b.subscribe(cqueue::SubscribeOptions("t").start_at_offset(1));
    auto got = sub.poll_batch(16, 5s);
    ASSERT_FALSE(got.empty());
    size_t n = 0;
    // poll_batch may return fewer than all: keep polling.
    std::vector<std::string> seen;
    for (;;) {
        for (auto &m : got) {
            EXPECT_EQ(m.offset, 1 + seen.size());
            seen.emplace_back(m.text());
        }
        n += got.size();
        if (n >= 4) break;
        got = sub.poll_batch(16, 5s);
        ASSERT_FALSE(got.empty());
    }
    EXPECT_EQ(seen, bodies);
}

TEST(Broker, DurableSubscriptionResumesAfterItsAcks) {
    TempDir d;
    {
        cqueue::Broker b(d.path);
        auto sub = b.subscribe("jobs", "worker-1", CQ_SUB_EARLIEST);
        for (int i = 0; i < 5; ++i) b.publish("jobs", "r" + std::to_string(i));
        for (uint64_t i = 0; i < 3; ++i) {
            auto m = sub.poll(5s);
            ASSERT_TRUE(m);
            EXPECT_EQ(m->offset, i);
            sub.ack(*m);
        }
        EXPECT_EQ(sub.stats("jobs").acked_offset, 3u);
        EXPECT_EQ(sub.stats("jobs").durable, 1u);
    }  // subscription, then broker, destroyed: acks persisted
    cqueue::Broker b(d.path);
    auto sub = b.subscribe("jobs", "worker-1");
    auto m = sub.poll(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->offset, 3u);
    EXPECT_EQ(m->text(), "r3");
    sub.ack("jobs", m->offset);
    m = sub.poll(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->offset, 4u);
    // Seek back: offsets are redelivered.
    sub.seek("jobs", 0);
    m = sub.poll(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->offset, 0u);
    try {
        sub.stats("nope");
        FAIL() << "stats of a topic the subscription does not have";
    } catch (const cqueue::Error &e) {
        EXPECT_EQ(e.code(), CQ_ENOENT);
    }
}

TEST(Broker, MoveAndExplicitCloseAndOptions) {
    TempDir d;
    auto b0 = cqueue::Broker::try_open(
        d.path, cqueue::BrokerOptions{}.fsync_policy(CQ_FSYNC_GROUP).segment_size(64 * 1024));
    ASSERT_TRUE(b0.ok()) << b0.error().message();
    cqueue::Broker b = std::move(*b0);
    {
        cqueue::Subscription s = b.subscribe("x.*", "", CQ_SUB_EARLIEST);
        cqueue::Subscription s2 = std::move(s);
        EXPECT_EQ(s.native_handle(), nullptr);
        EXPECT_EQ(b.publish("x.y", "v"), 0u);
        auto m = s2.poll(5s);
        ASSERT_TRUE(m);
        EXPECT_EQ(m->topic, "x.y");
        s2.unsubscribe();
        EXPECT_EQ(s2.native_handle(), nullptr);
    }
    EXPECT_GE(b.stats().fsyncs, 1u);
    b.close();
    EXPECT_EQ(b.native_handle(), nullptr);
}

TEST(Broker, ThreadsPublishConcurrentlyEveryRecordOnce) {
    TempDir d;
    cqueue::Broker b(d.path);
    auto sub = b.subscribe(cqueue::SubscribeOptions("mt").earliest());
    constexpr int kThreads = 4, kEach = 500;
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
        ts.emplace_back([&b, t] {
            for (int i = 0; i < kEach; ++i) b.publish("mt", std::to_string(t * kEach + i));
        });
    std::set<std::string> seen;
    for (uint64_t i = 0; i < kThreads * kEach; ++i) {
        auto m = sub.poll(10s);
        ASSERT_TRUE(m);
        EXPECT_EQ(m->offset, i);
        EXPECT_TRUE(seen.emplace(m->text()).second);
    }
    for (auto &t : ts) t.join();
    EXPECT_EQ(seen.size(), size_t(kThreads * kEach));
}

// Waits (sleeping) until pred() holds or 10 s passed.
template <class P>
bool eventually(P pred) {
    for (int i = 0; i < 10000; ++i) {
        if (pred()) return true;
        std::this_thread::sleep_for(1ms);
    }
    return pred();
}

TEST(Broker, PushDeliversInOrderAndAFailedRecordIsRedeliveredToTheNextSubscriber) {
    TempDir d;
    cqueue::Broker b(d.path);
    cqueue::Pool pool(cqueue::PoolOptions().workers(2));
    for (int i = 0; i < 200; ++i) b.publish("events", "e" + std::to_string(i));
    std::mutex mu;
    std::vector<uint64_t> seen;
    {
        auto push =
            b.subscribe_push(cqueue::SubscribeOptions("events").durable("pusher").earliest(), pool,
                             [&](const cqueue::Message &m) {
                                 EXPECT_EQ(m.text(), "e" + std::to_string(m.offset));
                                 std::lock_guard lock(mu);
                                 seen.push_back(m.offset);
                                 if (m.offset == 120) throw std::runtime_error("boom at 120");
                                 return m.offset != 150;  // false: failed
                             });
        ASSERT_TRUE(eventually([&] {
            std::lock_guard lock(mu);
            return seen.size() >= 200;
        }));
        push.unsubscribe();
        EXPECT_EQ(push.handler_failures(), 0u) << "unsubscribe drops the state";
    }
    std::vector<uint64_t> want(200);
    for (uint64_t i = 0; i < 200; ++i) want[i] = i;
    EXPECT_EQ(seen, want)
        << "each record once, in order (the rest of the job that threw came again)";
    // Acknowledged up to 119: the throw failed 120.
    auto pull = b.subscribe("events", "pusher");
    auto m = pull.poll(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->offset, 120u);
}

TEST(Broker, PushBatchHandlerGetsRunsAndItsShortReturnRedeliversTheRest) {
    TempDir d;
    cqueue::Broker b(d.path);
    cqueue::Pool pool(cqueue::PoolOptions().workers(1));
    for (int i = 0; i < 500; ++i) b.publish("t", "r" + std::to_string(i));
    std::mutex mu;
    std::vector<uint64_t> seen;
    std::vector<size_t> sizes;
    bool refused = false;
    auto push = b.subscribe_push_batch(cqueue::SubscribeOptions("t").durable("batcher").earliest(),
                                       pool, [&](std::span<const cqueue::Message> msgs) -> size_t {
                                           std::lock_guard lock(mu);
                                           sizes.push_back(msgs.size());
                                           for (size_t i = 0; i < msgs.size(); ++i) {
                                               seen.push_back(msgs[i].offset);
                                               // Refuse 300 once: it fails, what came after it in
                                               // the call comes again.
                                               if (msgs[i].offset == 300 && !refused) {
                                                   refused = true;
                                                   return i;
                                               }
                                           }
                                           return msgs.size();
                                       });
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mu);
        return !seen.empty() && seen.back() == 499;
    }));
    push.unsubscribe();
    std::lock_guard lock(mu);
    EXPECT_LE(*std::max_element(sizes.begin(), sizes.end()), 64u);
    EXPECT_GT(*std::max_element(sizes.begin(), sizes.end()), 1u) << "runs, not single records";
    // 0..300, then 301.. again from the next call.
    std::vector<uint64_t> want;
    for (uint64_t i = 0; i <= 300; ++i) want.push_back(i);
    for (uint64_t i = 301; i < 500; ++i) want.push_back(i);
    EXPECT_EQ(seen, want);
    auto pull = b.subscribe("t", "batcher");
    auto m = pull.poll(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->offset, 300u) << "300 failed: not acknowledged";
}

TEST(Broker, PushBatchHandlerThatThrowsIsCountedAndDeliveryGoesOn) {
    TempDir d;
    cqueue::Broker b(d.path);
    cqueue::Pool pool(cqueue::PoolOptions().workers(1));
    for (int i = 0; i < 100; ++i) b.publish("t", "x");
    std::atomic<uint64_t> last{0};
    std::atomic<int> throws{0};
    auto push = b.subscribe_push_batch(
        cqueue::SubscribeOptions("t").earliest(), pool, [&](std::span<const cqueue::Message> msgs) {
            if (msgs.front().offset <= 10 && msgs.back().offset >= 10 && throws++ == 0)
                throw std::runtime_error("batch boom");
            last = msgs.back().offset;
        });
    ASSERT_TRUE(eventually([&] { return last.load() == 99; }));
    EXPECT_EQ(push.handler_failures(), 1u);
    ASSERT_TRUE(push.last_exception());
    try {
        std::rethrow_exception(push.last_exception());
    } catch (const std::runtime_error &e) {
        EXPECT_STREQ(e.what(), "batch boom");
    }
    try {
        cq_message m;
        cqueue::detail::check(::broker_poll(push.native_handle(), &m, 0));
        FAIL() << "poll on a push subscription";
    } catch (const cqueue::Error &e) {
        EXPECT_EQ(e.code(), CQ_EPERM);
    }
}

TEST(Broker, InterruptEndsAPollInAnotherThread) {
    TempDir d;
    cqueue::Broker b(d.path);
    auto sub = b.subscribe(cqueue::SubscribeOptions("quiet"));
    EXPECT_EQ(interrupted([&] { (void)sub.poll(20s); }, [&] { sub.interrupt(); }), CQ_ECANCELED);
    b.publish("quiet", "x");
    auto m = sub.poll(5s);  // later polls are not affected
    ASSERT_TRUE(m);
    EXPECT_EQ(m->text(), "x");
}

TEST(Misc, VersionMatchesHeaders) {
    EXPECT_EQ(cqueue::version(), CQ_VERSION_STRING);
}

}  // namespace
