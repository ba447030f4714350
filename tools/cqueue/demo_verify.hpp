// The demo's end check, from the consumers' record files: nothing delivered
// twice, each producer's order kept within each consumer, and nothing missing
// beyond what the kills explain.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cqcli::demo {

struct InDoubt {
    uint32_t producer;
    uint64_t seq;
    bool delivered = false;  // filled by verify()
};

struct VerifyInput {
    uint32_t producers;
    uint64_t messages;                      // total over all producers
    std::vector<std::string> record_files;  // every consumer incarnation's file
    std::vector<InDoubt> in_doubt;          // from killed producers
    uint32_t killed_consumers;
};

struct VerifyResult {
    uint64_t delivered = 0;  // distinct (producer, seq) received
    uint64_t duplicates = 0;
    uint64_t order_violations = 0;  // within one consumer, a producer's seq went back
    uint64_t bad = 0;               // malformed messages reported by consumers
    uint64_t lost = 0;              // missing and not in doubt
    uint64_t lost_allowed = 0;      // what the consumer kills can explain
    std::vector<InDoubt> in_doubt;
    std::vector<std::string> problems;  // first few examples, for the report
    bool pass() const {
        return duplicates == 0 && order_violations == 0 && bad == 0 && lost <= lost_allowed;
    }
};

VerifyResult verify(const VerifyInput &in);

}  // namespace cqcli::demo
