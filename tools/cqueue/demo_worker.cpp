// cqueue __demo-worker: one producer or consumer of `cqueue demo`, run as its
// own program (the demo forks and execs /proc/self/exe). It opens the queue
// by name, and reports through the files described in demo_shared.hpp.
//
//   cqueue __demo-worker producer --queue Q --dir D --id P --producers N
//                        --messages M --t0 NS --interval NS
//   cqueue __demo-worker consumer --queue Q --dir D --record K --producers N
//                        --messages M
#include <cqueue/cqueue.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "args.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "demo_shared.hpp"
#include "mapping.hpp"

namespace cqcli {

namespace {

using namespace demo;
using demo_part::kWaitSliceNs;

struct WorkerArgs {
    std::string queue, dir;
    uint32_t producers;
    uint64_t messages;
};

int produce(const WorkerArgs &w, uint32_t id, int64_t t0, int64_t interval) {
    Mapping ctl_map = Mapping::file(demo_part::control_path(w.dir), sizeof(Control), false);
    ProducerSlot &slot = ctl_map.as<Control>()->producer[id];
    QueuePtr q = open_queue(w.queue);
    const uint64_t n = demo_part::share_of(w.messages, w.producers, id);

    // Resume after the last message this producer may have enqueued: a
    // message in doubt (killed inside cq_enqueue) is skipped, never resent.
    const uint64_t start = std::max(slot.trying.load(), slot.done.load());
    slot.done.store(start);
    slot.trying.store(start);
    for (uint64_t seq = start; seq < n; ++seq) {
        demo_part::pace(t0, interval, seq);
        const Message m{kMessageMagic, id, seq};
        // seq_cst: the store is done before the enqueue can start.
        slot.trying.store(seq + 1, std::memory_order_seq_cst);
        for (;;) {
            int r = cq_enqueue_wait(q.get(), &m, sizeof m, kWaitSliceNs);
            if (r == CQ_OK) break;
            if (r != CQ_ETIMEDOUT) throw_lib(r, "producer " + std::to_string(id));
        }
        slot.done.store(seq + 1, std::memory_order_release);
    }
    return kExitOk;
}

// Appends the tags of the dequeued messages, then publishes them with one store.
void record(demo_part::RecordWriter &out, const WorkerArgs &w, const cq_rbuf *bufs, int n) {
    uint64_t bad = 0;
    for (int i = 0; i < n; ++i) {
        Message m{};
        bool ok = bufs[i].len == sizeof m && !out.full();
        if (ok) {
            std::memcpy(&m, bufs[i].data, sizeof m);
            ok = m.magic == kMessageMagic && m.producer < w.producers &&
                 m.seq < demo_part::share_of(w.messages, w.producers, m.producer);
        }
        if (ok)
            out.append(demo_part::pack(m.producer, m.seq));
        else
            ++bad;
    }
    out.publish(bad);
}

int consume(const WorkerArgs &w, uint32_t index) {
    Mapping ctl_map = Mapping::file(demo_part::control_path(w.dir), sizeof(Control), false);
    const Control *ctl = ctl_map.as<Control>();
    demo_part::RecordWriter out(open_record_file(record_path(w.dir, index), w.messages, false));
    QueuePtr q = open_queue(w.queue);
    char data[kConsumerBatch][kQueueMaxMessage];
    cq_rbuf bufs[kConsumerBatch];
    for (uint32_t i = 0; i < kConsumerBatch; ++i) bufs[i] = {data[i], sizeof data[i], 0};
    for (;;) {
        // Read the stop flag before dequeuing: empty after stop means done.
        const bool stopping = ctl->stop.load(std::memory_order_acquire);
        int r = cq_dequeue_batch(q.get(), bufs, kConsumerBatch);
        if (r == CQ_EEMPTY) {
            if (stopping) return kExitOk;
            r = cq_dequeue_wait(q.get(), bufs[0].data, bufs[0].cap, &bufs[0].len, kWaitSliceNs);
            if (r == CQ_ETIMEDOUT) continue;
            if (r == CQ_OK) r = 1;
        }
        if (r < 0) throw_lib(r, "consumer " + std::to_string(index));
        record(out, w, bufs, r);
    }
}

}  // namespace

int run_demo_worker(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {
        {"queue", 0, ArgKind::value},     {"dir", 0, ArgKind::value},
        {"id", 0, ArgKind::value},        {"record", 0, ArgKind::value},
        {"producers", 0, ArgKind::value}, {"messages", 0, ArgKind::value},
        {"t0", 0, ArgKind::value},        {"interval", 0, ArgKind::value},
    };
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help"))
        return print_help(
            "usage: cqueue __demo-worker producer|consumer ... (internal, see demo)\n");
    const std::string &role = args.single("ROLE");
    WorkerArgs w;
    w.queue = args.value("queue").value_or("");
    w.dir = args.value("dir").value_or("");
    if (w.queue.empty() || w.dir.empty()) throw UsageError("--queue and --dir are required");
    w.producers = args.u32("producers", 1, 1, kMaxProducers);
    w.messages = args.u64("messages", 1, 1, uint64_t{1} << 40);
    if (role == "producer")
        return produce(w, args.u32("id", 0, 0, w.producers - 1),
                       static_cast<int64_t>(args.u64("t0", 0, 0, INT64_MAX)),
                       static_cast<int64_t>(args.u64("interval", 0, 0, INT64_MAX)));
    if (role == "consumer") return consume(w, args.u32("record", 0, 0, 1u << 20));
    throw UsageError("ROLE must be producer or consumer, not '" + role + "'");
}

}  // namespace cqcli
