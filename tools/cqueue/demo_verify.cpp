#include "demo_verify.hpp"

#include <algorithm>

#include "demo_shared.hpp"

namespace cqcli::demo {

namespace {

constexpr size_t kMaxExamples = 5;

void note(VerifyResult &r, const std::string &what) {
    if (r.problems.size() < kMaxExamples) r.problems.push_back(what);
}

std::string id(uint32_t p, uint64_t seq) {
    return "(producer " + std::to_string(p) + ", seq " + std::to_string(seq) + ")";
}

}  // namespace

VerifyResult verify(const VerifyInput &in) {
    VerifyResult r;
    std::vector<std::vector<uint8_t>> seen(in.producers);
    for (uint32_t p = 0; p < in.producers; ++p)
        seen[p].assign(demo_part::share_of(in.messages, in.producers, p), 0);

    for (const std::string &path : in.record_files) {
        const demo_part::RecordFile file = open_record_file(path, in.messages, false);
        const uint64_t *rec = file.items<uint64_t>();
        const uint64_t count = file.readable();
        r.bad += file.header()->bad.load();
        // Per producer: the last seq this consumer got, + 1 (0 = none yet).
        std::vector<uint64_t> next(in.producers, 0);
        for (uint64_t i = 0; i < count; ++i) {
            const uint32_t p = demo_part::tag_sender(rec[i]);
            const uint64_t seq = demo_part::tag_seq(rec[i]);
            if (p >= in.producers || seq >= seen[p].size()) {
                ++r.bad;
                note(r, "record " + std::to_string(i) + " of " + path + " is out of range");
                continue;
            }
            if (seen[p][seq]++) {
                ++r.duplicates;
                note(r, "delivered twice: " + id(p, seq));
            } else {
                ++r.delivered;
            }
            if (seq + 1 <= next[p]) {
                ++r.order_violations;
                note(r, "out of order in " + path + ": " + id(p, seq) + " after seq " +
                            std::to_string(next[p] - 1));
            }
            next[p] = std::max(next[p], seq + 1);
        }
    }

    r.in_doubt = in.in_doubt;
    for (InDoubt &d : r.in_doubt)
        d.delivered =
            d.producer < in.producers && d.seq < seen[d.producer].size() && seen[d.producer][d.seq];
    for (uint32_t p = 0; p < in.producers; ++p) {
        for (uint64_t seq = 0; seq < seen[p].size(); ++seq) {
            if (seen[p][seq]) continue;
            const bool doubtful =
                std::any_of(r.in_doubt.begin(), r.in_doubt.end(),
                            [&](const InDoubt &d) { return d.producer == p && d.seq == seq; });
            if (doubtful) continue;
            ++r.lost;
            note(r, "never delivered: " + id(p, seq));
        }
    }
    r.lost_allowed = uint64_t{in.killed_consumers} * kConsumerBatch;
    return r;
}

}  // namespace cqcli::demo
