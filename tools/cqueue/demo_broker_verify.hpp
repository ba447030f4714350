// The pub/sub demo's end check, from the subscribers' record files: every
// subscriber got every record; each incarnation got its records at dense,
// rising offsets, starting where its durable id had acknowledged; one offset
// carries the same record for everyone; and the only duplicates are the
// records the killed subscriber had recorded after its last ack, delivered
// again to its restart.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cqcli::broker_demo {

// One run of one subscriber program.
struct Incarnation {
    std::string record_file;
    uint64_t start_offset;  // where its durable id resumed: 0, or the ack at the kill
};

struct SubscriberRuns {
    std::vector<Incarnation> runs;  // in the order they ran
};

struct VerifyInput {
    uint32_t publishers;
    uint64_t records;  // total over all publishers
    std::vector<SubscriberRuns> subscribers;
    // The killed subscriber: one past the last offset its first run recorded,
    // and where its durable id resumed (the offset after its last ack).
    bool killed = false;
    uint32_t killed_slot = 0;
    uint64_t killed_end = 0;
    uint64_t killed_acked = 0;
};

struct SubscriberResult {
    uint64_t received = 0;            // records in all its runs' files
    uint64_t distinct = 0;            // distinct (publisher, seq)
    uint64_t duplicates = 0;          // received - distinct
    uint64_t allowed_duplicates = 0;  // of those: after its last ack, before the kill
    uint64_t missing = 0;
    uint64_t order_violations = 0;  // offsets not dense and rising, or a wrong start
};

struct VerifyResult {
    std::vector<SubscriberResult> subscribers;
    uint64_t bad = 0;                   // malformed or out-of-range records
    uint64_t mismatches = 0;            // one offset, different records for different subscribers
    std::vector<std::string> problems;  // first few examples, for the report
    bool pass() const;
};

VerifyResult verify(const VerifyInput &in);

}  // namespace cqcli::broker_demo
