// The broker through its C API in one process: publish and poll, offsets,
// wildcards, durable resume and acks, seeks, rolls across segments,
// retention and the overflow policies, stats, metrics, bad arguments.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "tests/broker/broker_util.hpp"
#include "tests/util/test_util.hpp"

using brokertest::drain;
using brokertest::open_broker;
using brokertest::publish;
using brokertest::Record;

namespace {

cq_broker_options small_segments(uint64_t size = 64 * 1024) {
    cq_broker_options o = CQ_BROKER_OPTIONS_INIT;
    o.segment_size = size;
    return o;
}

TEST(BrokerArgs, RejectedWithCodeAndText) {
    cqtest::TempDir d;
    cq_broker *b = nullptr;
    EXPECT_EQ(broker_open(nullptr, nullptr, &b), CQ_EINVAL);
    EXPECT_EQ(broker_open(d.path().c_str(), nullptr, nullptr), CQ_EINVAL);
    cq_broker_options o = CQ_BROKER_OPTIONS_INIT;
    o.segment_size = 1000;
    EXPECT_EQ(broker_open(d.path().c_str(), &o, &b), CQ_EINVAL);
    EXPECT_NE(std::strstr(cq_last_error(), "segment_size"), nullptr) << cq_last_error();
    o = cq_broker_options CQ_BROKER_OPTIONS_INIT;
    o.fsync_policy = 9;
    EXPECT_EQ(broker_open(d.path().c_str(), &o, &b), CQ_EINVAL);
    o = cq_broker_options CQ_BROKER_OPTIONS_INIT;
    o.struct_size = 4;
    EXPECT_EQ(broker_open(d.path().c_str(), &o, &b), CQ_EINVAL);
    b = open_broker(d.path());
    ASSERT_NE(b, nullptr);
    for (const char *bad : {"", ".", "a..b", "a.", ".a", "a b", "a/b", "a.*", "a.>", "../x"})
        EXPECT_EQ(broker_publish(b, bad, "x", 1, nullptr), CQ_EINVAL) << bad;
    EXPECT_EQ(broker_publish(b, std::string(256, 'a').c_str(), "x", 1, nullptr), CQ_EINVAL);
    EXPECT_EQ(broker_name_valid("a.b-c_9", CQ_NAME_TOPIC), 1);
    EXPECT_EQ(broker_name_valid("a.*", CQ_NAME_TOPIC), 0);
    EXPECT_EQ(broker_name_valid("a.*.>", CQ_NAME_PATTERN), 1);
    EXPECT_EQ(broker_name_valid("a.>.b", CQ_NAME_PATTERN), 0);
    EXPECT_EQ(broker_name_valid("id-1", CQ_NAME_SUBSCRIBER), 1);
    EXPECT_EQ(broker_name_valid("a.b", CQ_NAME_SUBSCRIBER), 0);
    EXPECT_EQ(broker_name_valid(std::string(129, 'i').c_str(), CQ_NAME_SUBSCRIBER), 0);
    EXPECT_EQ(broker_name_valid(nullptr, CQ_NAME_TOPIC), 0);
    EXPECT_EQ(broker_name_valid("a", 7), 0);
    EXPECT_EQ(broker_publish(b, nullptr, "x", 1, nullptr), CQ_EINVAL);
    EXPECT_EQ(broker_publish(b, "t", nullptr, 1, nullptr), CQ_EINVAL);
    EXPECT_EQ(broker_publish(b, "t", nullptr, 0, nullptr), CQ_OK);  // empty record
    EXPECT_EQ(broker_publish(b, "t", "x", CQ_BROKER_MAX_MESSAGE_SIZE + 1, nullptr), CQ_EMSGSIZE);
    cq_subscription *s = nullptr;
    for (const char *bad : {"", "a.>.b", ">.a", "a.**", "a..*"})
        EXPECT_EQ(broker_subscribe(b, bad, nullptr, 0, &s), CQ_EINVAL) << bad;
    EXPECT_EQ(broker_subscribe(b, "t", nullptr, CQ_SUB_DURABLE, &s),
              CQ_EINVAL);  // durable needs an id
    EXPECT_EQ(broker_subscribe(b, "t", "bad id", CQ_SUB_DURABLE, &s), CQ_EINVAL);
    EXPECT_EQ(broker_subscribe(b, "t", nullptr, 1u << 7, &s), CQ_EINVAL);
    ASSERT_EQ(broker_subscribe(b, "t", nullptr, 0, &s), CQ_OK);
    cq_message m;
    EXPECT_EQ(broker_poll(nullptr, &m, 0), CQ_EINVAL);
    EXPECT_EQ(broker_poll(s, nullptr, 0), CQ_EINVAL);
    EXPECT_EQ(broker_poll(s, &m, 0), CQ_ETIMEDOUT);
    EXPECT_EQ(broker_ack(s, "t", 5), CQ_EINVAL);      // not delivered
    EXPECT_EQ(broker_ack(s, "other", 0), CQ_EINVAL);  // not subscribed
    EXPECT_EQ(broker_seek(s, "other", 0), CQ_ENOENT);
    cq_broker_stats st{};
    EXPECT_EQ(broker_stats(b, &st), CQ_EINVAL);  // struct_size 0
    size_t need = 0;
    EXPECT_EQ(broker_topics(b, nullptr, 0, &need), CQ_EMSGSIZE);
    EXPECT_EQ(need, 3u);  // "t\n" + NUL
    EXPECT_EQ(broker_unsubscribe(s), CQ_OK);
    EXPECT_EQ(broker_unsubscribe(nullptr), CQ_OK);  // like cq_close
    EXPECT_EQ(broker_close(b), CQ_OK);
    EXPECT_EQ(broker_close(nullptr), CQ_OK);
}

TEST(Broker, PublishPollInOrderWithDenseOffsets) {
    cqtest::TempDir d;
    cq_broker *b = open_broker(d.path());
    cq_subscription *s = nullptr;
    ASSERT_EQ(broker_subscribe(b, "orders", nullptr, 0, &s), CQ_OK);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(publish(b, "orders", "m" + std::to_string(i)), uint64_t(i));
    auto got = drain(s);
    ASSERT_EQ(got.size(), 100u);
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(got[i].offset, uint64_t(i));
        EXPECT_EQ(got[i].data, "m" + std::to_string(i));
        EXPECT_EQ(got[i].topic, "orders");
    }
    // A new ephemeral subscription starts at the next record, or the oldest.
    cq_subscription *late = nullptr, *early = nullptr;
    ASSERT_EQ(broker_subscribe(b, "orders", nullptr, 0, &late), CQ_OK);
    ASSERT_EQ(broker_subscribe(b, "orders", nullptr, CQ_SUB_EARLIEST, &early), CQ_OK);
    publish(b, "orders", "after");
    auto l = drain(late);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].offset, 100u);
    EXPECT_EQ(drain(early).size(), 101u);
    broker_unsubscribe(s);
    broker_unsubscribe(late);
    broker_unsubscribe(early);
    broker_close(b);
}

TEST(Broker, PollWakesOnPublishFromAnotherThread) {
    cqtest::TempDir d;
    cq_broker *b = open_broker(d.path());
    cq_subscription *s = nullptr;
    ASSERT_EQ(broker_subscribe(b, "w", nullptr, 0, &s), CQ_OK);
    std::thread t([&] {
        for (int i = 0; i < 200; ++i) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
            publish(b, "w", std::to_string(i));
        }
    });
    cq_message m;
    for (int i = 0; i < 200; ++i) {
        // 10 s: a lost wake-up shows as CQ_ETIMEDOUT.
        ASSERT_EQ(broker_poll(s, &m, 10'000'000'000), CQ_OK) << i << " " << cq_last_error();
        EXPECT_EQ(m.offset, uint64_t(i));
    }
    t.join();
    broker_unsubscribe(s);
    broker_close(b);
}

TEST(Broker, InterruptEndsAPollInProgressAndLeavesOtherSubscriptionsWaiting) {
    cqtest::TempDir d;
    cq_broker *b = open_broker(d.path());
    cq_subscription *s = nullptr, *other = nullptr;
    ASSERT_EQ(broker_subscribe(b, "i", nullptr, 0, &s), CQ_OK);
    ASSERT_EQ(broker_subscribe(b, "i", nullptr, 0, &other), CQ_OK);
    EXPECT_EQ(broker_interrupt(nullptr), CQ_EINVAL);
    // Before a poll: later polls are not affected.
    ASSERT_EQ(broker_interrupt(s), CQ_OK);
    cq_message m;
    EXPECT_EQ(broker_poll(s, &m, 5'000'000), CQ_ETIMEDOUT);
    // Two threads poll (20 s: without the interrupt, CQ_ETIMEDOUT rather than
    // a hang); only s is interrupted, again and again until its poll ended.
    std::atomic<bool> done{false};
    int rc = 0, other_rc = 0;
    std::string text;
    cq_message om;
    std::thread t([&] {
        rc = broker_poll(s, &m, 20'000'000'000);
        text = cq_last_error();
        done = true;
    });
    std::thread o([&] { other_rc = broker_poll(other, &om, 20'000'000'000); });
    for (int i = 0; i < 2000 && !done; ++i) {
        EXPECT_EQ(broker_interrupt(s), CQ_OK);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    t.join();
    EXPECT_EQ(rc, CQ_ECANCELED);
    EXPECT_NE(text.find("broker_interrupt"), std::string::npos) << text;
    // The other subscription's poll was woken but went on waiting: it gets
    // the record published now.
    publish(b, "i", "after");
    o.join();
    EXPECT_EQ(other_rc, CQ_OK);
    EXPECT_EQ(om.offset, 0u);
    // And s polls on as usual.
    ASSERT_EQ(broker_poll(s, &m, 10'000'000'000), CQ_OK);
    EXPECT_EQ(m.offset, 0u);
    broker_unsubscribe(other);
    broker_unsubscribe(s);
    broker_close(b);
}

TEST(Broker, WildcardsMatchTokensAndPickUpNewTopics) {
    cqtest::TempDir d;
    cq_broker *b = open_broker(d.path());
    struct Case {
        const char *pattern;
        std::set<std::string> want;
    };
    const std::vector<std::string> topics = {"a", "a.b", "a.c", "a.b.c", "x.b", "a.b.c.d", "ab.b"};
    std::vector<Case> cases = {
        {"a", {"a"}},
        {"a.*", {"a.b", "a.c"}},
        {"*.b", {"a.b", "x.b", "ab.b"}},
        {"a.>", {"a.b", "a.c", "a.b.c", "a.b.c.d"}},
        {"a.*.c", {"a.b.c"}},
        {"*", {"a"}},
        {">", {"a", "a.b", "a.c", "a.b.c", "x.b", "a.b.c.d", "ab.b"}},
        {"a.b.>", {"a.b.c", "a.b.c.d"}},
        {"*.*.*", {"a.b.c"}},
    };
    // Half the topics exist before the subscriptions, half appear after.
    for (size_t i = 0; i < topics.size(); i += 2) publish(b, topics[i], "early");
    std::vector<cq_subscription *> subs;
    for (auto &c : cases) {
        cq_subscription *s = nullptr;
        ASSERT_EQ(broker_subscribe(b, c.pattern, nullptr, CQ_SUB_EARLIEST, &s), CQ_OK) << c.pattern;
        subs.push_back(s);
    }
    for (size_t i = 1; i < topics.size(); i += 2) publish(b, topics[i], "late");
    for (size_t i = 0; i < cases.size(); ++i) {
        std::set<std::string> seen;
        for (auto &r : drain(subs[i])) seen.insert(r.topic);
        EXPECT_EQ(seen, cases[i].want) << cases[i].pattern;
        broker_unsubscribe(subs[i]);
    }
    broker_close(b);
}

TEST(Broker, DurableSubscriberResumesAfterItsAck) {
    cqtest::TempDir d;
    {
        cq_broker *b = open_broker(d.path());
        cq_subscription *s = nullptr;
        ASSERT_EQ(broker_subscribe(b, "jobs.>", "worker1", CQ_SUB_DURABLE | CQ_SUB_EARLIEST, &s),
                  CQ_OK);
        for (int i = 0; i < 10; ++i) publish(b, "jobs.a", "a" + std::to_string(i));
        for (int i = 0; i < 5; ++i) publish(b, "jobs.b", "b" + std::to_string(i));
        auto got = drain(s);
        ASSERT_EQ(got.size(), 15u);
        EXPECT_EQ(broker_ack(s, "jobs.a", 6), CQ_OK);  // 0..6 done
        EXPECT_EQ(broker_ack(s, "jobs.a", 3), CQ_OK);  // older: no effect
        EXPECT_EQ(broker_ack(s, "jobs.b", 4), CQ_OK);
        cq_subscription_stats st = {};
        st.struct_size = sizeof st;
        ASSERT_EQ(broker_subscription_stats(s, "jobs.a", &st), CQ_OK);
        EXPECT_EQ(st.durable, 1u);
        EXPECT_EQ(st.acked_offset, 7u);
        EXPECT_EQ(st.end_offset, 10u);
        EXPECT_EQ(st.next_offset, 10u);
        EXPECT_EQ(st.delivered, 10u);
        broker_unsubscribe(s);
        broker_close(b);
    }
    cq_broker *b = open_broker(d.path());
    cq_subscription *s = nullptr;
    ASSERT_EQ(broker_subscribe(b, "jobs.>", "worker1", CQ_SUB_DURABLE, &s), CQ_OK);
    publish(b, "jobs.b", "b5");
    auto got = drain(s);
    std::map<std::string, std::vector<uint64_t>> by;
    for (auto &r : got) by[r.topic].push_back(r.offset);
    EXPECT_EQ(by["jobs.a"], (std::vector<uint64_t>{7, 8, 9}));  // redelivered: not acknowledged
    EXPECT_EQ(by["jobs.b"], (std::vector<uint64_t>{5}));
    broker_unsubscribe(s);
    broker_close(b);
}

TEST(Broker, SeekByOffsetAndTime) {
    cqtest::TempDir d;
    cq_broker *b = open_broker(d.path());
    for (int i = 0; i < 20; ++i) publish(b, "s", std::to_string(i));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const int64_t mid = int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (int i = 20; i < 30; ++i) publish(b, "s", std::to_string(i));
    cq_subscription *s = nullptr;
    ASSERT_EQ(broker_subscribe(b, "s", nullptr, 0, &s), CQ_OK);
    EXPECT_TRUE(drain(s).empty());
    ASSERT_EQ(broker_seek(s, "s", 25), CQ_OK);
    auto got = drain(s);
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[0].offset, 25u);
    ASSERT_EQ(broker_seek_time(s, mid), CQ_OK);
    got = drain(s);
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(got[0].offset, 20u);
    cq_subscribe_options o = CQ_SUBSCRIBE_OPTIONS_INIT;
    o.pattern = "s";
    o.start = CQ_START_OFFSET;
    o.start_value = 28;
    cq_subscription *s2 = nullptr;
    ASSERT_EQ(broker_subscribe_ex(b, &o, &s2), CQ_OK);
    EXPECT_EQ(drain(s2).size(), 2u);
    // Past the end: clamped to it (not left there to pass over the records
    // published up to that offset unseen), by seek and by the start option.
    ASSERT_EQ(broker_seek(s, "s", 1000), CQ_OK);
    o.start_value = 1000;
    cq_subscription *s3 = nullptr;
    ASSERT_EQ(broker_subscribe_ex(b, &o, &s3), CQ_OK);
    for (int i = 30; i < 35; ++i) publish(b, "s", std::to_string(i));
    for (cq_subscription *x : {s, s3}) {
        got = drain(x);
        ASSERT_EQ(got.size(), 5u);
        EXPECT_EQ(got[0].offset, 30u);
    }
    broker_unsubscribe(s);
    broker_unsubscribe(s2);
    broker_unsubscribe(s3);
    broker_close(b);
}

TEST(Broker, RecordsRollAcrossManySmallSegments) {
    cqtest::TempDir d;
    cq_broker *b = open_broker(d.path(), small_segments());
    cq_subscription *s = nullptr;
    ASSERT_EQ(broker_subscribe(b, "roll", nullptr, 0, &s), CQ_OK);
    std::string big(3000, 'x');
    std::vector<cq_iov> iov;
    for (int i = 0; i < 10; ++i) iov.push_back({big.data(), big.size()});
    uint64_t first = 0;
    for (int round = 0; round < 30; ++round) {
        ASSERT_EQ(broker_publish_batch(b, "roll", iov.data(), iov.size(), &first), 10)
            << cq_last_error();
        EXPECT_EQ(first, uint64_t(round) * 10);
    }
    // Exactly 30 * 10 records in offset order, across segments.
    std::vector<uint64_t> offs;
    cq_message m[64];
    int n;
    while ((n = broker_poll_batch(s, m, 64, 20'000'000)) > 0)
        for (int i = 0; i < n; ++i) {
            EXPECT_EQ(m[i].len, big.size());
            offs.push_back(m[i].offset);
        }
    EXPECT_EQ(n, CQ_ETIMEDOUT);
    ASSERT_EQ(offs.size(), 300u);
    for (size_t i = 0; i < offs.size(); ++i) EXPECT_EQ(offs[i], i);
    std::string buf(16, '\0');
    size_t need;
    ASSERT_EQ(broker_metrics(b, buf.data(), buf.size(), &need), CQ_EMSGSIZE);
    buf.resize(need);
    ASSERT_EQ(broker_metrics(b, buf.data(), buf.size(), &need), CQ_OK);
    EXPECT_NE(buf.find("cqueue_topic_end_offset{topic=\"roll\"} 300"), std::string::npos) << buf;
    EXPECT_EQ(broker_publish(b, "roll", big.data(), 70 * 1024, nullptr),
              CQ_EMSGSIZE);  // > a segment
    broker_unsubscribe(s);
    broker_close(b);
}

// Retention by bytes with each overflow policy against a lagging durable subscriber.
TEST(Broker, RetentionAndOverflowPolicies) {
    for (uint32_t policy : {CQ_OVERFLOW_FAIL, CQ_OVERFLOW_DROP, CQ_OVERFLOW_BLOCK}) {
        SCOPED_TRACE(policy);
        cqtest::TempDir d;
        cq_broker_options o = small_segments();
        o.retention_bytes = 3 * 64 * 1024;
        o.overflow_policy = policy;
        o.block_timeout_ns = 200'000'000;
        cq_broker *b = open_broker(d.path(), o);
        cq_subscription *lag = nullptr;
        ASSERT_EQ(broker_subscribe(b, "r", "slow", CQ_SUB_DURABLE | CQ_SUB_EARLIEST, &lag), CQ_OK);
        std::string rec(1000, 'r');
        int ok = 0, full = 0, timedout = 0;
        for (int i = 0; i < 400; ++i) {
            int r = broker_publish(b, "r", rec.data(), rec.size(), nullptr);
            ok += r == CQ_OK;
            full += r == CQ_EFULL;
            timedout += r == CQ_ETIMEDOUT;
            if (r == CQ_ETIMEDOUT) break;  // each costs the block timeout
        }
        if (policy == CQ_OVERFLOW_DROP) {
            EXPECT_EQ(ok, 400);
            cq_broker_stats st = {};
            st.struct_size = sizeof st;
            ASSERT_EQ(broker_stats(b, &st), CQ_OK);
            EXPECT_GT(st.segments_deleted, 0u);
            // The subscriber finds the oldest records gone and counts them.
            auto got = drain(lag);
            cq_subscription_stats ss = {};
            ss.struct_size = sizeof ss;
            ASSERT_EQ(broker_subscription_stats(lag, "r", &ss), CQ_OK);
            EXPECT_GT(ss.missed, 0u);
            EXPECT_EQ(got.size() + ss.missed, 400u);
        } else {
            EXPECT_LT(ok, 400);
            EXPECT_GT(ok, 100);  // three segments' worth went in
            if (policy == CQ_OVERFLOW_FAIL) {
                EXPECT_GT(full, 0);
            }
            if (policy == CQ_OVERFLOW_BLOCK) {
                EXPECT_EQ(timedout, 1);
            }
            // Nothing the subscriber has not acknowledged was deleted.
            auto got = drain(lag);
            EXPECT_EQ(got.size(), size_t(ok));
            ASSERT_FALSE(got.empty());
            EXPECT_EQ(broker_ack(lag, "r", got.back().offset), CQ_OK);
            // Acknowledged: publishing goes on.
            EXPECT_EQ(broker_publish(b, "r", rec.data(), rec.size(), nullptr), CQ_OK)
                << cq_last_error();
        }
        broker_unsubscribe(lag);
        broker_close(b);
    }
}

TEST(Broker, TwoHandlesInOneProcessShareTopics) {
    cqtest::TempDir d;
    cq_broker *a = open_broker(d.path()), *b = open_broker(d.path());
    cq_subscription *s = nullptr;
    ASSERT_EQ(broker_subscribe(b, "shared", nullptr, 0, &s), CQ_OK);
    for (int i = 0; i < 50; ++i) publish(i % 2 ? a : b, "shared", std::to_string(i));
    auto got = drain(s);
    ASSERT_EQ(got.size(), 50u);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].offset, i);
    broker_unsubscribe(s);
    broker_close(a);
    broker_close(b);
}

TEST(Broker, ConcurrentPublishersEveryRecordOnceInOrderPerPublisher) {
    cqtest::TempDir d;
    constexpr int kThreads = 4, kEach = 5000;
    cq_broker *handles[2] = {open_broker(d.path(), small_segments(256 * 1024)),
                             open_broker(d.path(), small_segments(256 * 1024))};
    cq_subscription *s = nullptr;
    ASSERT_EQ(broker_subscribe(handles[0], "c", nullptr, 0, &s), CQ_OK);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i)
                publish(handles[t % 2], "c", std::to_string(t) + ":" + std::to_string(i));
        });
    std::vector<Record> got;
    while (got.size() < size_t(kThreads) * kEach) {
        cq_message m;
        int r = broker_poll(s, &m, 10'000'000'000);
        ASSERT_EQ(r, CQ_OK) << got.size() << " " << cq_last_error();
        got.push_back({m.topic, m.offset, std::string(static_cast<const char *>(m.data), m.len)});
    }
    for (auto &t : ts) t.join();
    std::vector<int> next(kThreads, 0);
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].offset, i);
        const int t = std::stoi(got[i].data.substr(0, got[i].data.find(':')));
        const int n = std::stoi(got[i].data.substr(got[i].data.find(':') + 1));
        EXPECT_EQ(n, next[t]) << "publisher " << t;
        next[t] = n + 1;
    }
    broker_unsubscribe(s);
    broker_close(handles[0]);
    broker_close(handles[1]);
}

TEST(Broker, GroupAndAlwaysFsyncAdvanceTheDurableOffset) {
    for (uint32_t policy : {CQ_FSYNC_GROUP, CQ_FSYNC_ALWAYS, CQ_FSYNC_INTERVAL}) {
        SCOPED_TRACE(policy);
        cqtest::TempDir d;
        cq_broker_options o = small_segments(128 * 1024);
        o.fsync_policy = policy;
        o.fsync_interval_ms = 5;
        cq_broker *b = open_broker(d.path(), o);
        cq_subscription *s = nullptr;
        ASSERT_EQ(broker_subscribe(b, "g", "dur", CQ_SUB_DURABLE, &s), CQ_OK);
        std::vector<std::thread> ts;
        for (int t = 0; t < 3; ++t)
            ts.emplace_back([&] {
                for (int i = 0; i < 40; ++i) publish(b, "g", std::string(2000, 'g'));
            });
        for (auto &t : ts) t.join();
        auto got = drain(s);
        ASSERT_EQ(got.size(), 120u);
        ASSERT_EQ(broker_ack(s, "g", 119), CQ_OK);
        cq_subscription_stats st = {};
        st.struct_size = sizeof st;
        ASSERT_EQ(broker_subscription_stats(s, "g", &st), CQ_OK);
        EXPECT_EQ(st.durable_offset, 120u);  // the ack made it durable first
        cq_broker_stats bs = {};
        bs.struct_size = sizeof bs;
        ASSERT_EQ(broker_stats(b, &bs), CQ_OK);
        EXPECT_GT(bs.fsyncs, 0u);
        if (policy == CQ_FSYNC_GROUP) {
            EXPECT_LE(bs.fsyncs, 130u);
        }
        broker_unsubscribe(s);
        EXPECT_EQ(broker_close(b), CQ_OK);
    }
}

}  // namespace

namespace {

// Temporary files a killed process left (an ack being written, a segment
// being created) are removed: by a durable subscriber in its directory, by
// the first opener in the topics'.
TEST(Broker, TemporaryFilesOfKilledWritersAreRemoved) {
    cqtest::TempDir d;
    {
        cq_broker *b = open_broker(d.path(), small_segments());
        cq_subscription *s = nullptr;
        ASSERT_EQ(broker_subscribe(b, "t", "id", CQ_SUB_DURABLE, &s), CQ_OK);
        broker_unsubscribe(s);
        broker_close(b);
    }
    pid_t dead = ::fork();
    if (dead == 0) _exit(0);
    int st;
    ::waitpid(dead, &st, 0);
    const std::string ack_tmp = d.path() + "/subs/id/t.ack.tmp-" + std::to_string(dead) + "-1";
    const std::string seg_tmp = d.path() + "/topics/t/.tmp-" + std::to_string(dead) + "-00ff";
    const std::string live_tmp =
        d.path() + "/topics/t/.tmp-" + std::to_string(::getpid()) + "-00ff";
    for (auto &f : {ack_tmp, seg_tmp, live_tmp}) std::ofstream(f) << "partial";
    cq_broker *b = open_broker(d.path());
    struct stat st2;
    EXPECT_NE(::stat(seg_tmp.c_str(), &st2), 0);   // first opener
    EXPECT_EQ(::stat(live_tmp.c_str(), &st2), 0);  // its writer is alive: kept
    EXPECT_EQ(::stat(ack_tmp.c_str(), &st2), 0);   // subs are cleaned by their subscriber
    cq_subscription *s = nullptr;
    ASSERT_EQ(broker_subscribe(b, "t", "id", CQ_SUB_DURABLE, &s), CQ_OK);
    EXPECT_NE(::stat(ack_tmp.c_str(), &st2), 0);
    broker_unsubscribe(s);
    broker_close(b);
}

}  // namespace
