#include "demo_broker_verify.hpp"

#include <algorithm>

#include "demo_broker_shared.hpp"

namespace cqcli::broker_demo {

namespace {

constexpr size_t kMaxExamples = 5;

void note(VerifyResult &r, const std::string &what) {
    if (r.problems.size() < kMaxExamples) r.problems.push_back(what);
}

std::string id(uint32_t p, uint64_t seq) {
    return "(publisher " + std::to_string(p) + ", seq " + std::to_string(seq) + ")";
}

}  // namespace

bool VerifyResult::pass() const {
    if (bad || mismatches) return false;
    return std::all_of(subscribers.begin(), subscribers.end(), [](const SubscriberResult &s) {
        return s.missing == 0 && s.order_violations == 0 && s.duplicates == s.allowed_duplicates;
    });
}

VerifyResult verify(const VerifyInput &in) {
    VerifyResult r;
    // One topic, publishers never killed: offsets 0..records-1, one record each.
    constexpr uint64_t kUnset = ~uint64_t{0};
    std::vector<uint64_t> by_offset(in.records, kUnset);
    for (uint32_t slot = 0; slot < in.subscribers.size(); ++slot) {
        SubscriberResult &sr = r.subscribers.emplace_back();
        const std::string who = subscriber_id(slot);
        std::vector<std::vector<uint8_t>> seen(in.publishers);
        for (uint32_t p = 0; p < in.publishers; ++p)
            seen[p].assign(demo_part::share_of(in.records, in.publishers, p), 0);
        const std::vector<Incarnation> &runs = in.subscribers[slot].runs;
        for (size_t k = 0; k < runs.size(); ++k) {
            const demo_part::RecordFile file =
                open_record_file(runs[k].record_file, in.records, false);
            const demo_part::RecordHeader *hdr = file.header();
            const Record *rec = file.items<Record>();
            const uint64_t count = file.readable();
            r.bad += hdr->bad.load();
            if (hdr->bad.load()) note(r, who + " got " + std::to_string(hdr->bad) + " bad bodies");
            uint64_t expect = runs[k].start_offset;
            std::vector<uint64_t> next_seq(in.publishers, 0);  // per publisher: last seq + 1
            for (uint64_t i = 0; i < count; ++i) {
                const uint32_t p = demo_part::tag_sender(rec[i].tag);
                const uint64_t seq = demo_part::tag_seq(rec[i].tag), off = rec[i].offset;
                if (p >= in.publishers || seq >= seen[p].size() || off >= in.records) {
                    ++r.bad;
                    note(r, who + ": record " + std::to_string(i) + " is out of range");
                    continue;
                }
                ++sr.received;
                if (off != expect) {
                    ++sr.order_violations;
                    note(r, who + " run " + std::to_string(k + 1) + ": offset " +
                                std::to_string(off) + " where " + std::to_string(expect) +
                                " was due");
                }
                expect = off + 1;
                if (seq + 1 <= next_seq[p]) {
                    ++sr.order_violations;
                    note(r,
                         who + ": " + id(p, seq) + " after seq " + std::to_string(next_seq[p] - 1));
                }
                next_seq[p] = std::max(next_seq[p], seq + 1);
                if (by_offset[off] == kUnset) {
                    by_offset[off] = rec[i].tag;
                } else if (by_offset[off] != rec[i].tag) {
                    ++r.mismatches;
                    note(r, "offset " + std::to_string(off) + " is " + id(p, seq) + " for " + who +
                                " but another record for an earlier subscriber");
                }
                if (seen[p][seq] == 0) {
                    seen[p][seq] = 1;
                    ++sr.distinct;
                    continue;
                }
                ++sr.duplicates;
                // Allowed: the restart got again what the killed run recorded
                // after its last ack (offsets killed_acked .. killed_end - 1).
                const bool allowed = in.killed && slot == in.killed_slot && k > 0 &&
                                     off >= in.killed_acked && off < in.killed_end;
                if (allowed)
                    ++sr.allowed_duplicates;
                else
                    note(r, who + " got " + id(p, seq) + " (offset " + std::to_string(off) +
                                ") twice, not explained by its restart");
            }
        }
        for (uint32_t p = 0; p < in.publishers; ++p)
            for (uint64_t seq = 0; seq < seen[p].size(); ++seq)
                if (!seen[p][seq]) {
                    ++sr.missing;
                    note(r, who + " never got " + id(p, seq));
                }
    }
    return r;
}

}  // namespace cqcli::broker_demo
