// A separate object file from test_util.cpp: programs that link the static
// core instead of libcqueue.so (the broker fault test) never pull it in.
#include "tests/util/queue_util.hpp"

#include <gtest/gtest.h>

namespace cqtest {

cq_queue *create_queue(const std::string &name, uint32_t capacity, uint32_t max_message_size,
                       uint32_t extra_flags) {
    cq_queue_options o = CQ_QUEUE_OPTIONS_INIT;
    o.flags = CQ_CREATE | CQ_EXCL | extra_flags;
    o.capacity = capacity;
    o.max_message_size = max_message_size;
    cq_queue *q = nullptr;
    EXPECT_EQ(cq_open(name.c_str(), &o, &q), CQ_OK) << name << ": " << cq_last_error();
    return q;
}

}  // namespace cqtest
