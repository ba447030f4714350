// Creating a queue for a test: the options every queue test spelled out.
#pragma once

#include <cqueue/cqueue.h>

#include <cstdint>
#include <string>

namespace cqtest {

// Creates queue `name` with CQ_CREATE | CQ_EXCL | extra_flags; nullptr on
// failure, after a GoogleTest failure that names cq_last_error().
cq_queue *create_queue(const std::string &name, uint32_t capacity, uint32_t max_message_size,
                       uint32_t extra_flags = 0);

}  // namespace cqtest
