// Bad bytes on disk: every byte of a record header, of a segment header, of
// an ack file flipped in turn; torn and truncated files. The broker reports
// CQ_ECORRUPT / CQ_EVERSION with the place, never delivers a damaged record,
// never crashes, and a torn tail is cut off by the first opener.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "tests/broker/broker_util.hpp"
#include "tests/util/test_util.hpp"

using brokertest::drain;
using brokertest::open_broker;
using brokertest::publish;

namespace {

constexpr off_t kFirstRecord = 4096;  // docs/broker-log.md: records start after the 4 KiB header

std::string seg0(const cqtest::TempDir &d, const std::string &topic) {
    return d.path() + "/topics/" + topic + "/00000000000000000000.seg";
}

void flip(const std::string &path, off_t at) {
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << path;
    unsigned char c;
    ASSERT_EQ(::pread(fd, &c, 1, at), 1);
    c ^= 0xFF;
    ASSERT_EQ(::pwrite(fd, &c, 1, at), 1);
    ::close(fd);
}

// Three records of 24 bytes: each takes 32 + 24 = 56 bytes.
void three_records(const cqtest::TempDir &d) {
    cq_broker_options o = CQ_BROKER_OPTIONS_INIT;
    o.segment_size = 64 * 1024;  // small: each case creates and checks one
    cq_broker *b = open_broker(d.path(), o);
    for (int i = 0; i < 3; ++i)
        publish(b, "c", "record-" + std::to_string(i) + std::string(16, 'x'));
    broker_close(b);
}

// With another handle open (so nobody repairs on open), a reader meets the
// damaged second record: it gets the first, then CQ_ECORRUPT naming it.
TEST(BrokerCorrupt, EveryRecordHeaderByteFlippedIsReportedToReaders) {
    for (off_t byte = 0; byte < 32; ++byte) {
        SCOPED_TRACE(byte);
        cqtest::TempDir d;
        three_records(d);
        cq_broker *keep = open_broker(d.path());
        flip(seg0(d, "c"), kFirstRecord + 56 + byte);
        cq_broker *b = open_broker(d.path());
        cq_subscription *s = nullptr;
        ASSERT_EQ(broker_subscribe(b, "c", nullptr, CQ_SUB_EARLIEST, &s), CQ_OK) << cq_last_error();
        cq_message m;
        ASSERT_EQ(broker_poll(s, &m, 0), CQ_OK);
        EXPECT_EQ(m.offset, 0u);
        EXPECT_EQ(broker_poll(s, &m, 0), CQ_ECORRUPT);
        EXPECT_NE(std::strstr(cq_last_error(), "byte 4152"), nullptr) << cq_last_error();
        EXPECT_EQ(broker_poll(s, &m, 0), CQ_ETIMEDOUT);  // the topic is skipped from then on
        broker_unsubscribe(s);
        broker_close(b);
        broker_close(keep);
    }
}

// The first opener checks the tail: a damaged record with valid ones after
// it is corruption (the topic is refused, with the position); a damaged last
// record is a torn write (cut off; appends go on from there).
TEST(BrokerCorrupt, FirstOpenerRefusesMidSegmentCorruptionAndCutsATornTail) {
    for (off_t byte = 0; byte < 32; ++byte) {
        SCOPED_TRACE(byte);
        {
            cqtest::TempDir d;
            three_records(d);
            flip(seg0(d, "c"), kFirstRecord + 56 + byte);
            cq_broker *b = open_broker(d.path());
            cq_subscription *s = nullptr;
            EXPECT_EQ(broker_subscribe(b, "c", nullptr, CQ_SUB_EARLIEST, &s), CQ_ECORRUPT);
            EXPECT_NE(std::strstr(cq_last_error(), "at byte 4152"), nullptr) << cq_last_error();
            EXPECT_EQ(broker_publish(b, "c", "x", 1, nullptr), CQ_ECORRUPT);
            broker_close(b);
        }
        {
            cqtest::TempDir d;
            three_records(d);
            flip(seg0(d, "c"), kFirstRecord + 112 + byte);  // the last record
            cq_broker *b = open_broker(d.path());
            cq_subscription *s = nullptr;
            ASSERT_EQ(broker_subscribe(b, "c", nullptr, CQ_SUB_EARLIEST, &s), CQ_OK)
                << cq_last_error();
            EXPECT_EQ(publish(b, "c", "after the tear"), 2u);
            auto got = drain(s);
            ASSERT_EQ(got.size(), 3u);
            EXPECT_EQ(got[1].data, "record-1" + std::string(16, 'x'));
            EXPECT_EQ(got[2].offset, 2u);
            EXPECT_EQ(got[2].data, "after the tear");
            broker_unsubscribe(s);
            broker_close(b);
        }
    }
}

TEST(BrokerCorrupt, EverySegmentHeaderByteFlippedIsRefused) {
    // magic .. checksum: the immutable, checksummed part (48 bytes) and the checksum.
    for (off_t byte = 0; byte < 52; ++byte) {
        SCOPED_TRACE(byte);
        cqtest::TempDir d;
        three_records(d);
        flip(seg0(d, "c"), byte);
        cq_broker *b = nullptr;
        cq_broker_options o = CQ_BROKER_OPTIONS_INIT;
        int r = broker_open(d.path().c_str(), &o, &b);
        if (r == CQ_OK) {
            cq_subscription *s = nullptr;
            r = broker_subscribe(b, "c", nullptr, CQ_SUB_EARLIEST, &s);
            if (r == CQ_OK) broker_unsubscribe(s);
            broker_close(b);
        }
        EXPECT_TRUE(r == CQ_ECORRUPT || r == CQ_EVERSION) << r << " " << cq_last_error();
        EXPECT_NE(std::strstr(cq_last_error(), "00000000000000000000.seg"), nullptr)
            << cq_last_error();
    }
}

TEST(BrokerCorrupt, TruncatedSegmentAndControlFilesAreRefused) {
    for (const char *file :
         {"topics/c/00000000000000000000.seg", "topics/c/control", "broker.ctl"}) {
        SCOPED_TRACE(file);
        cqtest::TempDir d;
        three_records(d);
        ASSERT_EQ(::truncate((d.path() + "/" + file).c_str(), 1000), 0);
        cq_broker *b = nullptr;
        int r = broker_open(d.path().c_str(), nullptr, &b);
        if (r == CQ_OK) {
            r = broker_publish(b, "c", "x", 1, nullptr);
            broker_close(b);
        }
        EXPECT_EQ(r, CQ_ECORRUPT) << cq_last_error();
    }
}

TEST(BrokerCorrupt, EveryAckFileByteFlippedIsRefused) {
    cqtest::TempDir d;
    {
        cq_broker_options o = CQ_BROKER_OPTIONS_INIT;
        o.segment_size = 64 * 1024;
        cq_broker *b = open_broker(d.path(), o);
        cq_subscription *s = nullptr;
        ASSERT_EQ(broker_subscribe(b, "c", "id", CQ_SUB_DURABLE | CQ_SUB_EARLIEST, &s), CQ_OK);
        for (int i = 0; i < 5; ++i) publish(b, "c", "x");
        ASSERT_EQ(drain(s).size(), 5u);
        ASSERT_EQ(broker_ack(s, "c", 2), CQ_OK);
        broker_unsubscribe(s);
        broker_close(b);
    }
    const std::string ack = d.path() + "/subs/id/c.ack";
    struct stat st;
    ASSERT_EQ(::stat(ack.c_str(), &st), 0);
    ASSERT_EQ(st.st_size, 32);
    for (off_t byte = 0; byte < 32; ++byte) {
        SCOPED_TRACE(byte);
        flip(ack, byte);
        cq_broker *b = open_broker(d.path());
        cq_subscription *s = nullptr;
        int r = broker_subscribe(b, "c", "id", CQ_SUB_DURABLE, &s);
        EXPECT_TRUE(r == CQ_ECORRUPT || r == CQ_EVERSION) << r;
        EXPECT_NE(std::strstr(cq_last_error(), "c.ack"), nullptr) << cq_last_error();
        broker_close(b);
        flip(ack, byte);  // back
    }
    // Intact again: resumes after the ack.
    cq_broker *b = open_broker(d.path());
    cq_subscription *s = nullptr;
    ASSERT_EQ(broker_subscribe(b, "c", "id", CQ_SUB_DURABLE, &s), CQ_OK);
    auto got = drain(s);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].offset, 3u);
    broker_unsubscribe(s);
    broker_close(b);
}

}  // namespace

namespace {

// A refused topic stops neither the broker nor a pattern that matches it and
// others; naming it reports it.
TEST(BrokerCorrupt, ARefusedTopicLeavesTheOthersReadable) {
    cqtest::TempDir d;
    three_records(d);
    {
        cq_broker *b = open_broker(d.path());
        publish(b, "fine", "still here");
        broker_close(b);
    }
    flip(seg0(d, "c"), kFirstRecord + 56 + 4);  // the second record's CRC
    cq_broker *b = open_broker(d.path());
    cq_subscription *s = nullptr;
    EXPECT_EQ(broker_subscribe(b, "c", nullptr, CQ_SUB_EARLIEST, &s), CQ_ECORRUPT);
    ASSERT_EQ(broker_subscribe(b, "*", nullptr, CQ_SUB_EARLIEST, &s), CQ_OK) << cq_last_error();
    auto got = drain(s);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].topic, "fine");
    broker_unsubscribe(s);
    broker_close(b);
}

}  // namespace
