/* The init macros in C11 (the shared body is in init_macros.h). */
#define _POSIX_C_SOURCE 200809L

#include "init_macros.h"

int main(void) {
    /* As a compound literal, the C way to reset a struct. */
    cq_queue_options o;
    memset(&o, 0xA5, sizeof o);
    o = (cq_queue_options)CQ_QUEUE_OPTIONS_INIT;
    cq_check_options(&o);
    cq_queue_stats s;
    memset(&s, 0xA5, sizeof s);
    s = (cq_queue_stats)CQ_QUEUE_STATS_INIT;
    cq_check_zero_stats(&s);
    return cq_run_init_macro_tests("C11", "c");
}
