// cqueue __broker-demo-worker: one publisher or subscriber of the demo's
// pub/sub part, run as its own program (the demo forks and execs
// /proc/self/exe). It opens the broker directory itself and reports through
// the files described in demo_broker_shared.hpp.
//
//   cqueue __broker-demo-worker publisher --dir D --id P --publishers N
//                               --records M --t0 NS --interval NS
//   cqueue __broker-demo-worker subscriber --dir D --slot S --record K
//                               --publishers N --records M
#include <cqueue/cqueue.h>

#include <string>

#include "args.hpp"
#include "broker_cli.hpp"
#include "cli.hpp"
#include "clock.hpp"
#include "commands.hpp"
#include "demo_broker_shared.hpp"
#include "mapping.hpp"

namespace cqcli {

namespace {

using namespace broker_demo;
using demo_part::kWaitSliceNs;

constexpr int64_t kAckIntervalNs = 20'000'000;  // a subscriber acknowledges this often

struct WorkerArgs {
    std::string dir;
    uint32_t publishers;
    uint64_t records;
};

int publish(const WorkerArgs &w, uint32_t id, int64_t t0, int64_t interval) {
    Mapping ctl_map = Mapping::file(demo_part::control_path(w.dir), sizeof(Control), false);
    PublisherSlot &slot = ctl_map.as<Control>()->publisher[id];
    cq_broker_options o = CQ_BROKER_OPTIONS_INIT;
    o.segment_size = kSegmentSize;
    BrokerPtr b = open_broker(broker_dir(w.dir), &o);
    const uint64_t n = demo_part::share_of(w.records, w.publishers, id);
    for (uint64_t seq = slot.published.load(); seq < n; ++seq) {
        demo_part::pace(t0, interval, seq);
        const std::string text = body(id, seq);
        check(broker_publish(b.get(), kTopic, text.data(), text.size(), nullptr),
              "publisher " + std::to_string(id) + " seq " + std::to_string(seq));
        slot.published.store(seq + 1, std::memory_order_release);
    }
    check(broker_close(b.release()), "publisher " + std::to_string(id));
    return kExitOk;
}

// Appends the polled records, then publishes them with one store.
void record(demo_part::RecordWriter &out, const WorkerArgs &w, const cq_message *msgs, int n) {
    uint64_t bad = 0;
    for (int i = 0; i < n; ++i) {
        const std::optional<uint64_t> tag = parse_body(msgs[i].data, msgs[i].len);
        const uint32_t p = tag ? demo_part::tag_sender(*tag) : 0;
        const bool ok =
            tag && p < w.publishers &&
            demo_part::tag_seq(*tag) < demo_part::share_of(w.records, w.publishers, p) &&
            !out.full();
        if (ok)
            out.append(Record{*tag, msgs[i].offset});
        else
            ++bad;
    }
    out.publish(bad);
}

int subscribe_and_record(const WorkerArgs &w, uint32_t slot, uint32_t index) {
    Mapping ctl_map = Mapping::file(demo_part::control_path(w.dir), sizeof(Control), false);
    const Control *ctl = ctl_map.as<Control>();
    demo_part::RecordWriter out(open_record_file(record_path(w.dir, index), w.records, false));
    BrokerPtr b = open_broker(broker_dir(w.dir));
    const std::string id = subscriber_id(slot);
    cq_subscribe_options so = CQ_SUBSCRIBE_OPTIONS_INIT;
    so.pattern = kPattern;
    so.subscriber_id = id.c_str();
    so.flags = CQ_SUB_DURABLE;
    so.start = CQ_START_EARLIEST;  // a new id starts at the first record, a known one after its ack
    SubscriptionPtr s = subscribe(b.get(), so);
    cq_message msgs[kSubscriberBatch];
    const std::string who = "subscriber " + id;
    // Acknowledge at most every kAckIntervalNs (as consumers that commit
    // periodically do): what was recorded since the last ack comes again
    // after a kill.
    std::string topic;
    uint64_t last = 0;
    bool pending = false;
    int64_t acked_at = now_ns();
    auto ack = [&] {
        check(broker_ack(s.get(), topic.c_str(), last), who);
        pending = false;
        acked_at = now_ns();
    };
    for (;;) {
        // Read the stop flag before polling: nothing left after stop means done.
        const bool stopping = ctl->stop.load(std::memory_order_acquire);
        const int n = broker_poll_batch(s.get(), msgs, kSubscriberBatch, kWaitSliceNs);
        if (n == CQ_ETIMEDOUT) {
            if (pending) ack();
            if (stopping) break;
            continue;
        }
        check(n, who);
        record(out, w, msgs, n);
        // One topic: the last record's offset covers the batch.
        topic = msgs[n - 1].topic;
        last = msgs[n - 1].offset;
        pending = true;
        if (now_ns() - acked_at >= kAckIntervalNs) ack();
    }
    check(broker_unsubscribe(s.release()), who);
    check(broker_close(b.release()), who);
    return kExitOk;
}

}  // namespace

int run_broker_demo_worker(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {
        {"dir", 0, ArgKind::value},        {"id", 0, ArgKind::value},
        {"slot", 0, ArgKind::value},       {"record", 0, ArgKind::value},
        {"publishers", 0, ArgKind::value}, {"records", 0, ArgKind::value},
        {"t0", 0, ArgKind::value},         {"interval", 0, ArgKind::value},
    };
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help"))
        return print_help(
            "usage: cqueue __broker-demo-worker publisher|subscriber ... (internal, see demo)\n");
    const std::string &role = args.single("ROLE");
    WorkerArgs w;
    w.dir = args.value("dir").value_or("");
    if (w.dir.empty()) throw UsageError("--dir is required");
    w.publishers = args.u32("publishers", 1, 1, kMaxPublishers);
    w.records = args.u64("records", 1, 1, uint64_t{1} << 40);
    if (role == "publisher")
        return publish(w, args.u32("id", 0, 0, w.publishers - 1),
                       static_cast<int64_t>(args.u64("t0", 0, 0, INT64_MAX)),
                       static_cast<int64_t>(args.u64("interval", 0, 0, INT64_MAX)));
    if (role == "subscriber")
        return subscribe_and_record(w, args.u32("slot", 0, 0, kMaxSubscribers - 1),
                                    args.u32("record", 0, 0, 1u << 20));
    throw UsageError("ROLE must be publisher or subscriber, not '" + role + "'");
}

}  // namespace cqcli
