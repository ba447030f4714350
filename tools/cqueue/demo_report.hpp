// The demo's closing report: the verification's numbers with what explains
// them, the queue's counters, and the PASS/FAIL verdict.
#pragma once

#include <cqueue/cqueue.h>

#include <string>

#include "demo_verify.hpp"

namespace cqcli::demo {

struct ReportInput {
    uint64_t messages;
    double seconds_paced;  // the --seconds the producers were paced to (0 = none)
    double elapsed;        // seconds from the start to the last consumer's exit
    bool producer_killed;
    VerifyResult verify;
    cq_queue_stats stats;  // after the final recovery pass
    int final_recover_rc;  // that pass's result
    uint64_t final_reclaimed;
    std::string failure;  // a worker failed or the run timed out; empty if not
    std::string records_dir;
};

// Prints the report on stdout. True for PASS.
bool report(const ReportInput &in);

}  // namespace cqcli::demo
