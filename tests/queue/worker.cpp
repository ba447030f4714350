// cq_test_worker: a separate program the multi-process tests fork and exec,
// so that producers and consumers are real processes that open the queue by
// name through the public C API.
//
//   cq_test_worker produce NAME SLOT INC [--count N] [--batch B] [--size BYTES] [--norecover]
//                  [--progress FILE IDX]
//   cq_test_worker consume NAME OUTFILE [--batch B] [--size BYTES] [--norecover]
//                  [--progress FILE IDX]
//
// Messages are Msg records (slot, incarnation, seq), padded to --size. A producer stops after
// --count messages (0 = until SIGTERM); a consumer appends every message it
// takes to OUTFILE with one write() per dequeue call (so a SIGKILL loses at
// most what one call took: 1, or B with --batch), and on SIGTERM drains until the queue stays
// empty for 100 ms. --progress: an mmap'd array of uint64 counters; the worker
// stores its count of completed operations (producer: last seq sent + 1) at
// index IDX after each one.
#include <cqueue/cqueue.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/queue/msg.hpp"

namespace {
// SIGTERM stays blocked and is polled for: no asynchronous handler. Under
// TSan, which runs handlers of asynchronous signals later, from its
// interceptors, a consumer was once seen looping with its flag still clear
// after the SIGTERM had left the kernel (handler installed, nothing pending,
// the test waiting for it forever).
bool term_pending() {
    sigset_t pending;
    return ::sigpending(&pending) == 0 && ::sigismember(&pending, SIGTERM) == 1;
}

int die(const char *what, int r) {
    std::fprintf(stderr, "cq_test_worker: %s: %s: %s\n", what, cq_strerror(r), cq_last_error());
    return 1;
}

std::atomic<uint64_t> *map_progress(const char *path, int idx) {
    int fd = ::open(path, O_RDWR);
    if (fd < 0) return nullptr;
    void *p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) return nullptr;
    return static_cast<std::atomic<uint64_t> *>(p) + idx;
}
}  // namespace

int main(int argc, char **argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: see the top of tests/queue/worker.cpp\n");
        return 2;
    }
    std::string mode = argv[1];
    const char *name = argv[2];
    uint64_t count = 0;
    uint32_t batch = 1;
    size_t size = sizeof(cqtest::Msg);
    bool norecover = false;
    std::atomic<uint64_t> *progress = nullptr;
    int first_opt = mode == "produce" ? 5 : 4;
    for (int i = first_opt; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--count" && i + 1 < argc)
            count = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--batch" && i + 1 < argc)
            batch = static_cast<uint32_t>(std::atoi(argv[++i]));
        else if (a == "--norecover")
            norecover = true;
        else if (a == "--size" && i + 1 < argc)
            size = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--progress" && i + 2 < argc) {
            progress = map_progress(argv[i + 1], std::atoi(argv[i + 2]));
            i += 2;
        }
    }
    // The parent spawns us with SIGTERM blocked (procs.hpp); block it in
    // case someone else did not. One that already came stays pending.
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, nullptr);

    cq_queue_options o;
    cq_queue_options_init(&o);
    o.flags = norecover ? CQ_NO_RECOVER : 0;
    cq_queue *q = nullptr;
    if (int r = cq_open(name, &o, &q); r != CQ_OK) return die("open", r);

    if (mode == "produce") {
        if (argc < 5) return 2;
        const uint32_t slot = static_cast<uint32_t>(std::atoi(argv[3]));
        const uint32_t inc = static_cast<uint32_t>(std::atoi(argv[4]));
        if (size < sizeof(cqtest::Msg)) return 2;
        std::vector<unsigned char> space(size * batch, 0x5A);
        std::vector<cq_iov> iov(batch);
        uint64_t seq = 0;
        // One system call per 32 enqueue calls, and after each that found
        // the queue full.
        for (uint64_t k = 1; count == 0 || seq < count; ++k) {
            if (k % 32 == 0 && term_pending()) break;
            uint32_t n = batch;
            if (count && count - seq < n) n = static_cast<uint32_t>(count - seq);
            for (uint32_t i = 0; i < n; ++i) {
                cqtest::Msg m{slot, inc, seq + i};
                std::memcpy(&space[i * size], &m, sizeof m);
                iov[i] = cq_iov{&space[i * size], size};
            }
            int r;
            if (n == 1) {
                r = cq_enqueue_wait(q, space.data(), size, 20'000'000);
                if (r == CQ_OK) r = 1;
            } else {
                r = cq_enqueue_batch(q, iov.data(), n);
            }
            if (r > 0) {
                seq += static_cast<uint64_t>(r);
                if (progress) progress->store(seq, std::memory_order_relaxed);
            } else if (r == CQ_EFULL || r == CQ_ETIMEDOUT) {
                if (term_pending()) break;
                if (r == CQ_EFULL) usleep(100);
            } else {
                return die("enqueue", r);
            }
        }
    } else if (mode == "consume") {
        int out = ::open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (out < 0) return die("open output", CQ_EIO);
        uint64_t got = 0;
        int idle_ms = 0;
        bool stop = false;
        std::vector<unsigned char> space(size * batch);
        std::vector<cqtest::Msg> msgs(batch);
        std::vector<cq_rbuf> bufs(batch);
        for (uint32_t i = 0; i < batch; ++i) bufs[i] = cq_rbuf{&space[i * size], size, 0};
        for (;;) {
            int r;
            if (batch == 1) {
                size_t len = 0;
                r = cq_dequeue_wait(q, space.data(), size, &len, 10'000'000);
                bufs[0].len = len;
                if (r == CQ_OK) r = 1;
            } else {
                r = cq_dequeue_batch(q, bufs.data(), batch);
                if (r == CQ_EEMPTY) {
                    usleep(1000);
                    r = CQ_ETIMEDOUT;
                }
            }
            if (r > 0) {
                // One write per dequeue call: a SIGKILL loses at most what
                // this call took.
                for (int i = 0; i < r; ++i) {
                    if (bufs[i].len != size) return die("length", CQ_ECORRUPT);
                    std::memcpy(&msgs[i], &space[i * size], sizeof(cqtest::Msg));
                }
                const ssize_t bytes = static_cast<ssize_t>(sizeof(cqtest::Msg)) * r;
                if (::write(out, msgs.data(), static_cast<size_t>(bytes)) != bytes)
                    return die("write", CQ_EIO);
                idle_ms = 0;
                got += static_cast<uint64_t>(r);
                if (progress) progress->store(got, std::memory_order_relaxed);
            } else if (r == CQ_ETIMEDOUT) {
                idle_ms += batch == 1 ? 10 : 1;  // the wait above, or the 1 ms sleep
                stop = stop || term_pending();
                if (stop && idle_ms >= 100) break;
            } else {
                return die("dequeue", r);
            }
        }
        ::close(out);
    } else {
        return 2;
    }
    cq_close(q);
    return 0;
}
