// Child program of the two-process test: a pool attached to a shared-memory
// queue handles messages (8-byte ids) until the stop file appears, shuts
// down, and writes the ids it handled to the output file, one per line.
//
//   cq_pool_test_worker <queue name> <stop file> <output file>
#include <cqueue/cqueue.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

namespace {
struct Seen {
    std::mutex mu;
    std::vector<uint64_t> ids;
};

void handle(void *ctx, const void *data, size_t len) {
    auto *s = static_cast<Seen *>(ctx);
    uint64_t id = UINT64_MAX;
    if (len == sizeof id) std::memcpy(&id, data, sizeof id);
    std::lock_guard lk(s->mu);
    s->ids.push_back(id);
}
}  // namespace

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s <queue> <stop file> <output file>\n", argv[0]);
        return 2;
    }
    cq_queue *q = nullptr;
    if (cq_open(argv[1], nullptr, &q) != CQ_OK) {
        std::fprintf(stderr, "cq_open: %s\n", cq_last_error());
        return 1;
    }
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = 2;
    cq_pool *p = nullptr;
    if (pool_create(&o, &p) != CQ_OK) {
        std::fprintf(stderr, "pool_create: %s\n", cq_last_error());
        return 1;
    }
    Seen seen;
    if (pool_attach_queue(p, q, handle, &seen) != CQ_OK) {
        std::fprintf(stderr, "pool_attach_queue: %s\n", cq_last_error());
        return 1;
    }
    while (access(argv[2], F_OK) != 0) usleep(1000);
    if (pool_shutdown(p, CQ_WAIT_FOREVER) != CQ_OK) return 1;
    cq_pool_stats st = CQ_POOL_STATS_INIT;
    pool_stats(p, &st);
    pool_destroy(p);
    cq_close(q);
    FILE *f = std::fopen(argv[3], "w");
    if (!f) return 1;
    for (uint64_t id : seen.ids) std::fprintf(f, "%llu\n", static_cast<unsigned long long>(id));
    std::fclose(f);
    return st.messages == seen.ids.size() ? 0 : 3;
}
