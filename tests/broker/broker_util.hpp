// Helpers of the broker tests.
#pragma once

#include <cqueue/cqueue.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace brokertest {

struct Record {
    std::string topic;
    uint64_t offset;
    std::string data;
};

inline cq_broker *open_broker(const std::string &dir,
                              cq_broker_options o = CQ_BROKER_OPTIONS_INIT) {
    cq_broker *b = nullptr;
    EXPECT_EQ(broker_open(dir.c_str(), &o, &b), CQ_OK) << cq_last_error();
    return b;
}

inline uint64_t publish(cq_broker *b, const std::string &topic, const std::string &data) {
    uint64_t off = UINT64_MAX;
    EXPECT_EQ(broker_publish(b, topic.c_str(), data.data(), data.size(), &off), CQ_OK)
        << cq_last_error();
    return off;
}

// Everything available now (polls until a poll waits timeout_ns in vain).
inline std::vector<Record> drain(cq_subscription *s, int64_t timeout_ns = 20'000'000) {
    std::vector<Record> out;
    cq_message m;
    int r;
    while ((r = broker_poll(s, &m, timeout_ns)) == CQ_OK)
        out.push_back({m.topic, m.offset, std::string(static_cast<const char *>(m.data), m.len)});
    EXPECT_EQ(r, CQ_ETIMEDOUT) << cq_last_error();
    return out;
}

}  // namespace brokertest
