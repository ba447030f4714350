// Checks what the consumers of a multi-process test received: every message
// at most once, in per-producer order within each consumer, and how many
// were lost.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/queue/msg.hpp"
#include "tests/util/test_util.hpp"

namespace cqtest {

struct Delivery {
    uint64_t received = 0;
    uint64_t duplicates = 0;
    uint64_t order_violations = 0;
    // Per (slot, incarnation): distinct seqs received and the largest.
    std::map<std::pair<uint32_t, uint32_t>, std::set<uint64_t>> seen;

    // Messages sent but never received: for each producer incarnation,
    // sent(slot, inc) - received distinct, where sent is at least the
    // largest received seq + 1.
    template <typename SentFn>
    uint64_t lost(SentFn sent) const {
        uint64_t lost = 0;
        for (auto &[key, seqs] : seen) {
            uint64_t s = sent(key.first, key.second);
            uint64_t top = seqs.empty() ? 0 : *seqs.rbegin() + 1;
            if (top > s) s = top;
            lost += s - seqs.size();
        }
        return lost;
    }
};

inline Delivery check_delivery(const std::vector<std::string> &files) {
    Delivery d;
    for (auto &f : files) {
        std::string data = read_file(f);
        std::map<std::pair<uint32_t, uint32_t>, uint64_t> last;  // per consumer file
        for (size_t off = 0; off + sizeof(Msg) <= data.size(); off += sizeof(Msg)) {
            Msg m;
            __builtin_memcpy(&m, data.data() + off, sizeof m);
            auto key = std::make_pair(m.slot, m.inc);
            ++d.received;
            if (!d.seen[key].insert(m.seq).second) ++d.duplicates;
            auto it = last.find(key);
            if (it != last.end() && m.seq <= it->second) ++d.order_violations;
            last[key] = m.seq;
        }
    }
    return d;
}

}  // namespace cqtest
