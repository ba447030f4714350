// Publishers and durable subscribers in separate processes (fork + exec of
// broker_worker), with SIGKILLs of either side at random moments.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/broker/broker_util.hpp"
#include "tests/util/test_util.hpp"

namespace {

struct Line {
    std::string topic;
    uint64_t offset;
    std::string data;
};

std::vector<Line> read_lines(const std::string &path) {
    std::vector<Line> out;
    std::istringstream in(cqtest::read_file(path));
    std::string t, d;
    uint64_t o;
    while (in >> t >> o >> d) out.push_back({t, o, d});
    return out;
}

std::set<std::string> read_set(const std::string &path) {
    std::set<std::string> out;
    std::istringstream in(cqtest::read_file(path));
    std::string s;
    while (in >> s) out.insert(s);
    return out;
}

bool exited_ok(int status) {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

double scale() {
    const char *s = std::getenv("CQ_TEST_SCALE");
    return s ? std::atof(s) : 1.0;
}

// Every record once per subscriber, offsets dense and increasing, and each
// publisher's records in its order.
TEST(BrokerProcesses, ThreePublishersThreeDurableSubscribersExactlyOnce) {
    cqtest::TempDir d;
    const long n = static_cast<long>(3000 * scale()) + 10;
    std::vector<pid_t> subs, pubs;
    for (int i = 0; i < 3; ++i)
        subs.push_back(cqtest::spawn(CQ_BROKER_TEST_WORKER,
                                     {"sub", d.path(), "events.*", "s" + std::to_string(i),
                                      d.file("out" + std::to_string(i)), std::to_string(3 * n)}));
    for (int i = 0; i < 3; ++i)
        pubs.push_back(cqtest::spawn(
            CQ_BROKER_TEST_WORKER,
            {"pub", d.path(), "events.x", "p" + std::to_string(i), "0", std::to_string(n)}));
    for (pid_t p : pubs) EXPECT_TRUE(exited_ok(cqtest::wait_status(p)));
    for (pid_t p : subs) EXPECT_TRUE(exited_ok(cqtest::wait_status(p)));
    for (int i = 0; i < 3; ++i) {
        auto lines = read_lines(d.file("out" + std::to_string(i)));
        ASSERT_EQ(lines.size(), size_t(3 * n)) << "subscriber " << i;
        std::map<std::string, long> next;
        for (size_t k = 0; k < lines.size(); ++k) {
            EXPECT_EQ(lines[k].offset, k);
            const std::string tag = lines[k].data.substr(0, lines[k].data.find(':'));
            const long v = std::stol(lines[k].data.substr(lines[k].data.find(':') + 1));
            EXPECT_EQ(v, next[tag]) << tag;
            next[tag] = v + 1;
        }
    }
}

// SIGKILL publishers and durable subscribers at random moments, restart
// them: every record a publisher saw acknowledged (publish returned) reaches
// every subscriber; a subscriber's restarts redeliver only after its last ack.
TEST(BrokerProcesses, RandomSigkillsOfPublishersAndSubscribers) {
    cqtest::TempDir d;
    std::mt19937_64 rng(cqtest::seed_for("BrokerKills"));
    const int kills = static_cast<int>(20 * scale()) + 4;
    const long per_life = 4000;
    // Publishers: restarted with the next range after each kill.
    struct Pub {
        pid_t pid;
        long from;
        int lives = 0;
    };
    std::vector<Pub> pubs(2);
    auto start_pub = [&](int i) {
        Pub &p = pubs[i];
        const std::string tag = "p" + std::to_string(i) + "l" + std::to_string(p.lives++);
        p.pid = cqtest::spawn(CQ_BROKER_TEST_WORKER,
                              {"pub", d.path(), "k.t", tag, "0", std::to_string(per_life),
                               d.file("acked" + std::to_string(i))});
    };
    auto start_sub = [&](int i) {
        return cqtest::spawn(
            CQ_BROKER_TEST_WORKER,
            {"sub", d.path(), "k.>", "sub" + std::to_string(i), d.file("got" + std::to_string(i)),
             "1000000000"});  // never satisfied: runs until killed or idle
    };
    for (int i = 0; i < 2; ++i) start_pub(i);
    std::vector<pid_t> subs = {start_sub(0), start_sub(1)};
    for (int k = 0; k < kills; ++k) {
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 30000));
        const int who = static_cast<int>(rng() % 4);
        if (who < 2) {
            cqtest::kill_and_reap(pubs[who].pid, SIGKILL);
            start_pub(who);
        } else {
            cqtest::kill_and_reap(subs[who - 2], SIGKILL);
            subs[who - 2] = start_sub(who - 2);
        }
    }
    for (auto &p : pubs) EXPECT_TRUE(exited_ok(cqtest::wait_status(p.pid)));
    // Let the subscribers catch up (they stop after 20 s of silence: kill
    // them once the last acknowledged record arrived).
    std::set<std::string> acked = read_set(d.file("acked0"));
    for (auto &s : read_set(d.file("acked1"))) acked.insert(s);
    ASSERT_GT(acked.size(), 0u);
    for (int i = 0; i < 2; ++i) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        for (;;) {
            std::set<std::string> got;
            for (auto &l : read_lines(d.file("got" + std::to_string(i)))) got.insert(l.data);
            size_t missing = 0;
            for (auto &a : acked) missing += !got.count(a);
            if (missing == 0) break;
            ASSERT_LT(std::chrono::steady_clock::now(), until)
                << "subscriber " << i << " misses " << missing << " acknowledged records";
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        cqtest::kill_and_reap(subs[i], SIGKILL);
        // Each life of the subscriber reads in offset order; a restart goes
        // back at most to its last ack (it may redeliver, never skip).
        auto lines = read_lines(d.file("got" + std::to_string(i)));
        std::set<uint64_t> offsets;
        for (auto &l : lines) offsets.insert(l.offset);
        uint64_t expect = 0;
        for (uint64_t o : offsets) {
            // Gaps only where a killed publisher left an uncommitted record.
            EXPECT_GE(o, expect);
            expect = o + 1;
        }
    }
}

}  // namespace
