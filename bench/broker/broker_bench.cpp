// Broker benchmark: cqueue's broker against NATS core, NATS JetStream and
// Redis Streams doing the same work in the same run (servers started on
// 127.0.0.1 by this program). Never a test: it only prints.
//
//   bench_broker [--records N] [--subs S] [--reps R] [--skip nats,js,redis]
//
// 1. Fan-out: one publisher process, S subscriber processes, N records of 64
//    bytes; deliveries/s = S * N / (publisher's start .. last subscriber done);
//    the median of --reps runs (and the best); cq/x is the ratio of medians.
//    cqueue with fsync NONE (page cache; survives process crashes).
// 2. Durable publishing: 4 publisher processes with CQ_FSYNC_GROUP (batches
//    of 32 records per call, and single records), against one fdatasync per
//    record (CQ_FSYNC_ALWAYS, 1 publisher): records/s and the ratio.
// 3. Latency, fsync NONE: one publisher at ~20k records/s, one subscriber
//    blocked in broker_poll: publish-call and publish-to-delivery percentiles.
#include <cqueue/cqueue.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <nats/nats.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench/xproc/machine.hpp"

namespace {

constexpr size_t kRecord = 64;

uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

[[noreturn]] void die(const char *what, const char *detail) {
    std::fprintf(stderr, "bench_broker: %s: %s\n", what, detail);
    std::exit(1);
}

void check(int r, const char *what) {
    if (r < 0) die(what, cq_last_error());
}

std::string temp_dir() {
    char t[] = "/tmp/cq-bench-broker-XXXXXX";
    if (!::mkdtemp(t)) die("mkdtemp", std::strerror(errno));
    return t;
}

void rm_rf(const std::string &d) {
    std::string cmd = "rm -rf '" + d + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", d.c_str());
}

// ---- processes -------------------------------------------------------------------
// Runs f in a child; the child writes one uint64_t result to the pipe.
struct Child {
    pid_t pid;
    int fd;
};
Child fork_child(const std::function<uint64_t()> &f) {
    int p[2];
    if (::pipe(p) != 0) die("pipe", std::strerror(errno));
    pid_t pid = ::fork();
    if (pid < 0) die("fork", std::strerror(errno));
    if (pid == 0) {
        ::close(p[0]);
        uint64_t v = f();
        if (::write(p[1], &v, sizeof v) != sizeof v) _exit(2);
        _exit(0);
    }
    ::close(p[1]);
    return {pid, p[0]};
}
uint64_t join(Child c) {
    uint64_t v = 0;
    if (::read(c.fd, &v, sizeof v) != sizeof v) v = 0;
    ::close(c.fd);
    int st;
    ::waitpid(c.pid, &st, 0);
    return v;
}

// A ready/go handshake between the parent and children: each child writes a
// byte to `ready` once set up, then blocks reading `go` until the parent
// closes it.
struct Barrier {
    int ready[2], go[2];
    Barrier() {
        if (::pipe(ready) || ::pipe(go)) die("pipe", std::strerror(errno));
    }
    void child_ready_and_wait() {
        char c = 1;
        if (::write(ready[1], &c, 1) != 1) _exit(3);
        ::close(go[1]);
        if (::read(go[0], &c, 1) < 0) _exit(3);  // returns 0 when the parent closes
    }
    void parent_wait(int n) {
        for (int i = 0; i < n; ++i) {
            char c;
            if (::read(ready[0], &c, 1) != 1) die("barrier", "a child died before it was ready");
        }
    }
    void parent_go() { ::close(go[1]); }
    ~Barrier() {
        ::close(ready[0]);
        ::close(ready[1]);
        ::close(go[0]);
    }
};

// ---- servers ---------------------------------------------------------------------
struct Server {
    pid_t pid = -1;
    int port = 0;
    std::string dir;
    void stop() {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            int st;
            ::waitpid(pid, &st, 0);
            pid = -1;
        }
        if (!dir.empty()) rm_rf(dir);
    }
};

int free_port() {
    static int next = 20000 + (::getpid() % 20000);
    return next++;
}

Server start(const std::vector<std::string> &argv, int port, const std::string &dir) {
    Server s;
    s.port = port;
    s.dir = dir;
    s.pid = ::fork();
    if (s.pid == 0) {
        int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        std::vector<char *> a;
        for (auto &x : argv) a.push_back(const_cast<char *>(x.c_str()));
        a.push_back(nullptr);
        ::execvp(a[0], a.data());
        _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return s;
}

Server start_nats(bool jetstream) {
    const int port = free_port();
    std::string dir = jetstream ? temp_dir() : "";
    std::vector<std::string> a = {"nats-server", "-a", "127.0.0.1", "-p", std::to_string(port)};
    if (jetstream) a.insert(a.end(), {"-js", "-sd", dir});
    return start(a, port, dir);
}

Server start_redis() {
    const int port = free_port();
    return start({"redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1", "--save",
                  "", "--appendonly", "no", "--protected-mode", "no"},
                 port, "");
}

natsConnection *nats_connect(int port) {
    natsConnection *nc = nullptr;
    const std::string url = "nats://127.0.0.1:" + std::to_string(port);
    for (int i = 0; i < 50; ++i) {
        if (natsConnection_ConnectTo(&nc, url.c_str()) == NATS_OK) return nc;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    die("nats connect", url.c_str());
}

redisContext *redis_connect(int port) {
    for (int i = 0; i < 50; ++i) {
        redisContext *c = redisConnect("127.0.0.1", port);
        if (c && !c->err) return c;
        if (c) redisFree(c);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    die("redis connect", "refused");
}

// ---- 1. fan-out --------------------------------------------------------------------
struct FanoutResult {
    double deliveries_per_s = 0;
    uint64_t delivered = 0, expected = 0;
};

// Runs `subs` subscriber children (sub(i) returns the records it received)
// and a publisher child, all set up before the clock starts; the time runs
// from the go signal until the last subscriber has reported.
FanoutResult fanout(int subs, uint64_t n, const std::function<uint64_t(int, Barrier &)> &sub,
                    const std::function<void(Barrier &)> &pub) {
    Barrier bar;
    std::vector<Child> cs;
    for (int i = 0; i < subs; ++i) cs.push_back(fork_child([&, i] { return sub(i, bar); }));
    Child p = fork_child([&] {
        pub(bar);
        return uint64_t{0};
    });
    bar.parent_wait(subs + 1);
    const uint64_t t0 = now_ns();
    bar.parent_go();
    FanoutResult r;
    r.expected = n * uint64_t(subs);
    for (auto &c : cs) r.delivered += join(c);
    const uint64_t t1 = now_ns();
    join(p);
    r.deliveries_per_s = double(r.delivered) / (double(t1 - t0) / 1e9);
    return r;
}

FanoutResult fanout_cqueue(int subs, uint64_t n) {
    const std::string dir = temp_dir();
    {  // create the topic up front
        cq_broker *b;
        check(broker_open(dir.c_str(), nullptr, &b), "broker_open");
        cq_subscription *s;
        check(broker_subscribe(b, "bench", nullptr, 0, &s), "subscribe");
        broker_unsubscribe(s);
        broker_close(b);
    }
    auto r = fanout(
        subs, n,
        [&](int, Barrier &bar) -> uint64_t {
            cq_broker *b;
            check(broker_open(dir.c_str(), nullptr, &b), "broker_open");
            cq_subscription *s;
            check(broker_subscribe(b, "bench", nullptr, 0, &s), "subscribe");
            bar.child_ready_and_wait();
            uint64_t got = 0;
            cq_message m[256];
            while (got < n) {
                int k = broker_poll_batch(s, m, 256, 5'000'000'000);
                if (k < 0) break;
                got += uint64_t(k);
            }
            broker_unsubscribe(s);
            broker_close(b);
            return got;
        },
        [&](Barrier &bar) {
            cq_broker *b;
            check(broker_open(dir.c_str(), nullptr, &b), "broker_open");
            char rec[kRecord] = {};
            bar.child_ready_and_wait();
            for (uint64_t i = 0; i < n; ++i) {
                std::memcpy(rec, &i, sizeof i);
                check(broker_publish(b, "bench", rec, kRecord, nullptr), "publish");
            }
            broker_close(b);
        });
    rm_rf(dir);
    return r;
}

FanoutResult fanout_nats(int subs, uint64_t n) {
    Server srv = start_nats(false);
    auto r = fanout(
        subs, n,
        [&](int, Barrier &bar) -> uint64_t {
            natsConnection *nc = nats_connect(srv.port);
            natsSubscription *sub = nullptr;
            natsConnection_SubscribeSync(&sub, nc, "bench");
            natsSubscription_SetPendingLimits(sub, -1, -1);
            natsConnection_Flush(nc);
            bar.child_ready_and_wait();
            uint64_t got = 0;
            while (got < n) {
                natsMsg *m = nullptr;
                if (natsSubscription_NextMsg(&m, sub, 5000) != NATS_OK) break;  // dropped: stop
                natsMsg_Destroy(m);
                ++got;
            }
            natsSubscription_Destroy(sub);
            natsConnection_Destroy(nc);
            return got;
        },
        [&](Barrier &bar) {
            natsConnection *nc = nats_connect(srv.port);
            char rec[kRecord] = {};
            bar.child_ready_and_wait();
            for (uint64_t i = 0; i < n; ++i) {
                std::memcpy(rec, &i, sizeof i);
                natsConnection_Publish(nc, "bench", rec, kRecord);
            }
            natsConnection_Flush(nc);
            natsConnection_Destroy(nc);
        });
    srv.stop();
    return r;
}

FanoutResult fanout_jetstream(int subs, uint64_t n) {
    Server srv = start_nats(true);
    // In a child: the NATS library's threads would not survive the forks
    // below if this process had started them.
    join(fork_child([&]() -> uint64_t {
        natsConnection *nc = nats_connect(srv.port);
        jsCtx *js = nullptr;
        natsConnection_JetStream(&js, nc, nullptr);
        jsStreamConfig cfg;
        jsStreamConfig_Init(&cfg);
        cfg.Name = "BENCH";
        const char *subjects[] = {"js.bench"};
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        cfg.Storage = js_FileStorage;
        jsErrCode jerr = jsErrCode(0);
        if (js_AddStream(nullptr, js, &cfg, nullptr, &jerr) != NATS_OK)
            die("jetstream", "add stream");
        jsCtx_Destroy(js);
        natsConnection_Destroy(nc);
        return 0;
    }));
    auto r = fanout(
        subs, n,
        [&](int i, Barrier &bar) -> uint64_t {
            natsConnection *nc = nats_connect(srv.port);
            jsCtx *js = nullptr;
            natsConnection_JetStream(&js, nc, nullptr);
            jsSubOptions so;
            jsSubOptions_Init(&so);
            so.Config.AckPolicy = js_AckNone;
            natsSubscription *sub = nullptr;
            jsErrCode jerr = jsErrCode(0);
            std::string durable = std::to_string(i);
            durable.insert(0, "c");  // (not "c" + ...: a g++ 12 -Wrestrict false positive)
            if (js_PullSubscribe(&sub, js, "js.bench", durable.c_str(), nullptr, &so, &jerr) !=
                NATS_OK)
                die("jetstream", "pull subscribe");
            bar.child_ready_and_wait();
            uint64_t got = 0;
            while (got < n) {
                natsMsgList list = {nullptr, 0};
                natsStatus st = natsSubscription_Fetch(&list, sub, 256, 5000, &jerr);
                if (st != NATS_OK) {
                    std::fprintf(stderr, "jetstream fetch: %s (jerr %d) after %llu\n",
                                 natsStatus_GetText(st), int(jerr), (unsigned long long)got);
                    break;
                }
                got += uint64_t(list.Count);
                natsMsgList_Destroy(&list);
            }
            natsSubscription_Destroy(sub);
            jsCtx_Destroy(js);
            natsConnection_Destroy(nc);
            return got;
        },
        [&](Barrier &bar) {
            natsConnection *nc = nats_connect(srv.port);
            jsOptions o;
            jsOptions_Init(&o);
            o.PublishAsync.MaxPending = 4096;
            jsCtx *js = nullptr;
            natsConnection_JetStream(&js, nc, &o);
            char rec[kRecord] = {};
            bar.child_ready_and_wait();
            for (uint64_t i = 0; i < n; ++i) {
                std::memcpy(rec, &i, sizeof i);
                js_PublishAsync(js, "js.bench", rec, kRecord, nullptr);
            }
            js_PublishAsyncComplete(js, nullptr);
            jsCtx_Destroy(js);
            natsConnection_Destroy(nc);
        });
    srv.stop();
    return r;
}

FanoutResult fanout_redis(int subs, uint64_t n) {
    Server srv = start_redis();
    auto r = fanout(
        subs, n,
        [&](int, Barrier &bar) -> uint64_t {
            redisContext *c = redis_connect(srv.port);
            bar.child_ready_and_wait();
            uint64_t got = 0;
            std::string last = "0";
            while (got < n) {
                auto *rep = static_cast<redisReply *>(
                    redisCommand(c, "XREAD COUNT 1000 BLOCK 5000 STREAMS bench %s", last.c_str()));
                if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
                    if (rep) freeReplyObject(rep);
                    break;
                }
                redisReply *entries = rep->element[0]->element[1];
                got += entries->elements;
                if (entries->elements)
                    last = entries->element[entries->elements - 1]->element[0]->str;
                freeReplyObject(rep);
            }
            redisFree(c);
            return got;
        },
        [&](Barrier &bar) {
            redisContext *c = redis_connect(srv.port);
            char rec[kRecord] = {};
            bar.child_ready_and_wait();
            // Pipelined in groups of 100, as a fast Redis client would.
            for (uint64_t i = 0; i < n; i += 100) {
                const uint64_t k = std::min<uint64_t>(100, n - i);
                for (uint64_t j = 0; j < k; ++j) {
                    const uint64_t v = i + j;
                    std::memcpy(rec, &v, sizeof v);
                    redisAppendCommand(c, "XADD bench * d %b", rec, kRecord);
                }
                for (uint64_t j = 0; j < k; ++j) {
                    void *rep;
                    if (redisGetReply(c, &rep) == REDIS_OK) freeReplyObject(rep);
                }
            }
            redisFree(c);
        });
    srv.stop();
    return r;
}

// ---- 2. durable publishing ------------------------------------------------------------
double durable_rate(uint32_t policy, int publishers, uint64_t per_pub, int batch) {
    const std::string dir = temp_dir();
    Barrier bar;
    std::vector<Child> cs;
    for (int p = 0; p < publishers; ++p)
        cs.push_back(fork_child([&]() -> uint64_t {
            cq_broker_options o = CQ_BROKER_OPTIONS_INIT;
            o.fsync_policy = policy;
            cq_broker *b;
            check(broker_open(dir.c_str(), &o, &b), "broker_open");
            check(broker_publish(b, "durable", "warm", 4, nullptr), "publish");  // topic exists
            char rec[kRecord] = {};
            std::vector<cq_iov> iov(size_t(batch), cq_iov{rec, kRecord});
            bar.child_ready_and_wait();
            for (uint64_t i = 0; i < per_pub;) {
                if (batch == 1) {
                    check(broker_publish(b, "durable", rec, kRecord, nullptr), "publish");
                    ++i;
                } else {
                    int k = broker_publish_batch(b, "durable", iov.data(), size_t(batch), nullptr);
                    check(k, "publish_batch");
                    i += uint64_t(k);
                }
            }
            broker_close(b);
            return 0;
        }));
    bar.parent_wait(publishers);
    const uint64_t t0 = now_ns();
    bar.parent_go();
    for (auto &c : cs) join(c);
    const double s = double(now_ns() - t0) / 1e9;
    rm_rf(dir);
    return double(per_pub) * publishers / s;
}

// ---- 3. latency ------------------------------------------------------------------------
struct Latency {
    double pub_p50, pub_p99, pub_p999, del_p50, del_p99, del_p999;
};

double pct(std::vector<uint64_t> &v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return double(v[std::min(v.size() - 1, size_t(p * double(v.size())))]) / 1000.0;
}

Latency latency(uint64_t n) {
    const std::string dir = temp_dir();
    cq_broker *b;
    check(broker_open(dir.c_str(), nullptr, &b), "broker_open");
    cq_subscription *s;
    check(broker_subscribe(b, "lat", nullptr, 0, &s), "subscribe");
    // The subscriber in another process writes its delivery latencies to a file.
    const std::string out = dir + "/delivery.bin";
    Barrier bar;
    Child sub = fork_child([&]() -> uint64_t {
        cq_broker *sb;
        check(broker_open(dir.c_str(), nullptr, &sb), "broker_open");
        cq_subscription *ss;
        check(broker_subscribe(sb, "lat", nullptr, 0, &ss), "subscribe");
        std::vector<uint64_t> lat;
        lat.reserve(n);
        bar.child_ready_and_wait();
        cq_message m;
        while (lat.size() < n && broker_poll(ss, &m, 5'000'000'000) == CQ_OK) {
            uint64_t sent;
            std::memcpy(&sent, m.data, sizeof sent);
            lat.push_back(now_ns() - sent);
        }
        std::ofstream(out, std::ios::binary)
            .write(reinterpret_cast<const char *>(lat.data()),
                   std::streamsize(lat.size() * sizeof(uint64_t)));
        return lat.size();
    });
    bar.parent_wait(1);
    bar.parent_go();
    std::vector<uint64_t> pub;
    pub.reserve(n);
    char rec[kRecord] = {};
    for (uint64_t i = 0; i < n; ++i) {
        const uint64_t t = now_ns();
        std::memcpy(rec, &t, sizeof t);
        check(broker_publish(b, "lat", rec, kRecord, nullptr), "publish");
        pub.push_back(now_ns() - t);
        while (now_ns() - t < 50'000) {  // ~20k records/s
        }
    }
    join(sub);
    std::vector<uint64_t> del;
    {
        std::ifstream in(out, std::ios::binary);
        uint64_t v;
        while (in.read(reinterpret_cast<char *>(&v), sizeof v)) del.push_back(v);
    }
    broker_unsubscribe(s);
    broker_close(b);
    rm_rf(dir);
    return {pct(pub, 0.5), pct(pub, 0.99), pct(pub, 0.999),
            pct(del, 0.5), pct(del, 0.99), pct(del, 0.999)};
}

// Fan-out runs: the median (by deliveries/s) of `reps`, and the best rate.
struct Runs {
    FanoutResult median;
    double best;
};
template <typename F>
Runs runs_of(int reps, F f) {
    std::vector<FanoutResult> v;
    for (int i = 0; i < reps; ++i) v.push_back(f());
    std::sort(v.begin(), v.end(), [](const FanoutResult &a, const FanoutResult &b) {
        return a.deliveries_per_s < b.deliveries_per_s;
    });
    return {v[v.size() / 2], v.back().deliveries_per_s};
}

}  // namespace

int main(int argc, char **argv) {
    uint64_t n = 200'000;
    int subs = 10, reps = 3;
    std::string skip, cmd = argv[0];
    for (int i = 1; i < argc; ++i) cmd += std::string(" ") + argv[i];
    for (int i = 1; i < argc; ++i) {
        const bool value = i + 1 < argc;
        if (!std::strcmp(argv[i], "--records") && value) {
            n = std::strtoull(argv[++i], nullptr, 10);
        } else if (!std::strcmp(argv[i], "--subs") && value) {
            subs = std::atoi(argv[++i]);
        } else if (!std::strcmp(argv[i], "--reps") && value) {
            reps = std::atoi(argv[++i]);
        } else if (!std::strcmp(argv[i], "--skip") && value) {
            skip = argv[++i];
        } else {
            std::fprintf(stderr,
                         "usage: %s [--records N] [--subs S] [--reps R] [--skip nats,js,redis]\n",
                         argv[0]);
            return 2;
        }
    }
    ::signal(SIGPIPE, SIG_IGN);
    std::printf(
        "# bench_broker, %d records/run of %zu bytes, fan-out: median of %d runs (and the best)\n"
        "# machine: %s\n# command: %s\n",
        int(n), kRecord, reps, cqb::machine_line().c_str(), cmd.c_str());
    std::printf("\n## 1. fan-out: 1 publisher -> %d subscriber processes (deliveries/s)\n", subs);
    std::printf("%-22s %14s %14s %19s %10s\n", "system", "median/s", "best/s", "delivered", "cq/x");
    const Runs cq = runs_of(reps, [&] { return fanout_cqueue(subs, n); });
    auto row = [&](const char *name, const Runs &r) {
        std::printf("%-22s %14.0f %14.0f %5.1f%% of %-9llu %10.2f\n", name,
                    r.median.deliveries_per_s, r.best,
                    100.0 * double(r.median.delivered) / double(r.median.expected),
                    (unsigned long long)r.median.expected,
                    cq.median.deliveries_per_s / r.median.deliveries_per_s);
        std::fflush(stdout);
    };
    row("cqueue (fsync NONE)", cq);
    if (skip.find("nats") == std::string::npos)
        row("NATS core", runs_of(reps, [&] { return fanout_nats(subs, n); }));
    if (skip.find("js") == std::string::npos)
        row("NATS JetStream (file)", runs_of(reps, [&] { return fanout_jetstream(subs, n / 4); }));
    if (skip.find("redis") == std::string::npos)
        row("Redis Streams", runs_of(reps, [&] { return fanout_redis(subs, n / 4); }));

    std::printf("\n## 2. durable publishing, %zu-byte records (records/s)\n", kRecord);
    const double always = durable_rate(CQ_FSYNC_ALWAYS, 1, 2000, 1);
    const double group1 = durable_rate(CQ_FSYNC_GROUP, 4, 2000, 1);
    const double group32 = durable_rate(CQ_FSYNC_GROUP, 4, 64000, 32);
    std::printf("%-44s %12.0f %10s\n", "ALWAYS, 1 publisher (one fdatasync/record)", always,
                "1.00");
    std::printf("%-44s %12.0f %10.2f\n", "GROUP, 4 publishers, single records", group1,
                group1 / always);
    std::printf("%-44s %12.0f %10.2f\n", "GROUP, 4 publishers, batches of 32", group32,
                group32 / always);

    std::printf("\n## 3. latency, fsync NONE, ~20k records/s, 1 subscriber process (us)\n");
    Latency l = latency(std::min<uint64_t>(n, 100'000));
    std::printf("%-28s %8s %8s %8s\n", "", "p50", "p99", "p99.9");
    std::printf("%-28s %8.2f %8.2f %8.2f\n", "broker_publish call", l.pub_p50, l.pub_p99,
                l.pub_p999);
    std::printf("%-28s %8.2f %8.2f %8.2f\n", "publish -> delivery", l.del_p50, l.del_p99,
                l.del_p999);
    return 0;
}
