// The init macros in C++20 (the shared body is in init_macros.h).
#include "init_macros.h"

// Constant expressions in C++.
constexpr cq_queue_options k_options = CQ_QUEUE_OPTIONS_INIT;
static_assert(k_options.struct_size == sizeof(cq_queue_options));
static_assert(k_options.capacity == CQ_DEFAULT_CAPACITY);
static_assert(k_options.max_message_size == CQ_DEFAULT_MAX_MESSAGE_SIZE);
constexpr cq_queue_stats k_stats = CQ_QUEUE_STATS_INIT;
static_assert(k_stats.struct_size == sizeof(cq_queue_stats));

int main() {
    // As a functional cast, the C++ way to reset a struct.
    cq_queue_options o{};
    o.capacity = 1;
    o = cq_queue_options CQ_QUEUE_OPTIONS_INIT;
    cq_check_options(&o);
    cq_queue_stats s{};
    s.length = 1;
    s = cq_queue_stats CQ_QUEUE_STATS_INIT;
    cq_check_zero_stats(&s);
    return cq_run_init_macro_tests("C++20", "cpp");
}
