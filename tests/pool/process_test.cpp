// Pools in two processes attached to one shared-memory queue share its
// messages: every message is handled exactly once, by one of them.
#include <cqueue/cqueue.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/pool/pool_util.hpp"
#include "tests/util/queue_util.hpp"
#include "tests/util/test_util.hpp"

namespace {

TEST(PoolProcess, TwoProcessesShareOneQueue) {
    const std::string name = cqtest::unique_name("pool2p");
    cq_queue *q = cqtest::create_queue(name, 1024, 8);
    ASSERT_NE(q, nullptr);
    cqtest::TempDir dir;
    const std::string stop = dir.file("stop");
    pid_t kids[2];
    for (int i = 0; i < 2; ++i)
        kids[i] =
            cqtest::spawn(CQ_POOL_TEST_WORKER, {name, stop, dir.file("out" + std::to_string(i))});
    const uint64_t n = static_cast<uint64_t>(100'000 * pooltest::scale());
    for (uint64_t id = 0; id < n; ++id) {
        int r = cq_enqueue_wait(q, &id, sizeof id, 5'000'000'000);
        ASSERT_EQ(r, CQ_OK) << cq_last_error();
    }
    // Wait until every message was taken, then let the children shut down.
    cq_queue_stats st = CQ_QUEUE_STATS_INIT;
    auto t0 = std::chrono::steady_clock::now();
    do {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        ASSERT_EQ(cq_stats(q, &st), CQ_OK);
    } while (st.dequeued < n && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120));
    EXPECT_EQ(st.dequeued, n);
    { std::ofstream(stop) << "stop\n"; }
    std::vector<uint8_t> seen(n, 0);
    uint64_t per_child[2] = {0, 0}, bad = 0;
    for (int i = 0; i < 2; ++i) {
        int status = cqtest::wait_status(kids[i]);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "child " << i << " " << status;
        std::istringstream in(cqtest::read_file(dir.file("out" + std::to_string(i))));
        uint64_t id;
        while (in >> id) {
            if (id >= n) {
                ++bad;
                continue;
            }
            ++seen[id];
            ++per_child[i];
        }
    }
    uint64_t missing = 0, dup = 0;
    for (auto c : seen) {
        missing += c == 0;
        dup += c > 1;
    }
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(dup, 0u);
    std::printf("[ shared   ] child 0 handled %llu, child 1 handled %llu\n",
                static_cast<unsigned long long>(per_child[0]),
                static_cast<unsigned long long>(per_child[1]));
    cq_close(q);
    cq_unlink(name.c_str());
}

TEST(PoolProcess, AttachArguments) {
    const std::string name = cqtest::unique_name("poolatt");
    cq_queue *q = nullptr;
    ASSERT_EQ(cq_open(name.c_str(), nullptr, &q), CQ_OK);
    cq_pool_options o = CQ_POOL_OPTIONS_INIT;
    o.workers = 1;
    cq_pool *p = nullptr;
    ASSERT_EQ(pool_create(&o, &p), CQ_OK);
    auto h = [](void *, const void *, size_t) {};
    EXPECT_EQ(pool_attach_queue(p, q, nullptr, nullptr), CQ_EINVAL);
    EXPECT_EQ(pool_attach_queue(p, q, h, nullptr), CQ_OK);
    EXPECT_EQ(pool_attach_queue(p, q, h, nullptr), CQ_EINVAL);  // one queue per pool
    uint64_t v = 7;
    ASSERT_EQ(cq_enqueue(q, &v, sizeof v), CQ_OK);
    cq_pool_stats st = CQ_POOL_STATS_INIT;
    cqtest::wait_until([&] { return pool_stats(p, &st) == CQ_OK && st.messages > 0; }, 2000);
    EXPECT_EQ(st.messages, 1u);
    ASSERT_EQ(pool_shutdown(p, CQ_WAIT_FOREVER), CQ_OK);
    EXPECT_EQ(pool_attach_queue(p, q, h, nullptr), CQ_ECLOSED);
    pool_destroy(p);
    cq_close(q);
    cq_unlink(name.c_str());
}

}  // namespace
