// The cqueue CLI's broker commands (pub, sub, topics, lag) and the demo's
// pub/sub part, run as the installed program would be: a separate process
// per command, checked by its stdout, stderr and exit code.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "tests/cli/cli_run.hpp"
#include "tests/util/test_util.hpp"

namespace {

using namespace cqcli;

class CliBroker : public cqcli::Runner {
  protected:
    const std::string dir_ = tmp_.file("broker");
};

int64_t realtime_ns() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

TEST_F(CliBroker, PubPrintsOffsetsAndSubPrintsWhatWasPublished) {
    EXPECT_EQ(ok({"pub", dir_, "orders.eu", "a", "b", "c d"}), "0\n1\n2\n");
    EXPECT_EQ(ok({"pub", dir_, "orders.eu", "e"}), "3\n");
    EXPECT_EQ(ok({"sub", dir_, "orders.eu"}),
              "orders.eu 0 a\norders.eu 1 b\norders.eu 2 c d\norders.eu 3 e\n");
    // An ephemeral subscription changes nothing: the same again.
    EXPECT_EQ(ok({"sub", dir_, "orders.eu", "-n", "2"}), "orders.eu 0 a\norders.eu 1 b\n");
}

TEST_F(CliBroker, PubReadsStdinLinesWithDashOrWithoutMessages) {
    Result r = run_input({"pub", dir_, "t"}, "one\ntwo\n\nlast-without-newline");
    EXPECT_EQ(r.code, kOk) << r.err;
    EXPECT_EQ(r.out, "0\n1\n2\n3\n");
    r = run_input({"pub", dir_, "t", "-q", "-"}, "five\n");
    EXPECT_EQ(r.code, kOk) << r.err;
    EXPECT_EQ(r.out, "");  // -q
    EXPECT_EQ(ok({"pub", dir_, "t", "--", "-dash"}), "5\n");
    EXPECT_EQ(ok({"sub", dir_, "t"}),
              "t 0 one\nt 1 two\nt 2 \nt 3 last-without-newline\nt 4 five\nt 5 -dash\n");
}

TEST_F(CliBroker, SubPrintsUnprintableAndHexLookingMessagesInHex) {
    const Result r = run_input({"pub", dir_, "bin", "-q"}, std::string("a\x01z\n\xff\xfe\n", 7));
    ASSERT_EQ(r.code, kOk) << r.err;
    ok({"pub", dir_, "bin", "-q", "hex:41", "h\xc3\xa9llo", "tab\there"});
    EXPECT_EQ(ok({"sub", dir_, "bin"}),
              "bin 0 hex:61017a\n"
              "bin 1 hex:fffe\n"
              "bin 2 hex:6865783a3431\n"
              "bin 3 h\xc3\xa9llo\n"
              "bin 4 tab\there\n");
}

TEST_F(CliBroker, SubWildcardsCoverEveryMatchingTopic) {
    ok({"pub", dir_, "orders.eu", "-q", "e0", "e1"});
    ok({"pub", dir_, "orders.us", "-q", "u0"});
    ok({"pub", dir_, "orders.eu.late", "-q", "x"});
    ok({"pub", dir_, "stock.eu", "-q", "s"});
    std::string out = ok({"sub", dir_, "orders.*"});
    // Records of one topic in order; topics may interleave.
    EXPECT_NE(out.find("orders.eu 0 e0\n"), std::string::npos) << out;
    EXPECT_LT(out.find("orders.eu 0 e0\n"), out.find("orders.eu 1 e1\n")) << out;
    EXPECT_NE(out.find("orders.us 0 u0\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("late"), std::string::npos) << out;
    EXPECT_EQ(out.find("stock"), std::string::npos) << out;
    out = ok({"sub", dir_, "orders.>"});
    EXPECT_NE(out.find("orders.eu.late 0 x\n"), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
}

TEST_F(CliBroker, DurableSubResumesAfterItsAcks) {
    ok({"pub", dir_, "jobs", "-q", "j0", "j1", "j2", "j3", "j4"});
    EXPECT_EQ(ok({"sub", dir_, "jobs", "--durable", "w1", "-n", "2"}), "jobs 0 j0\njobs 1 j1\n");
    // --no-ack looks without moving w1.
    EXPECT_EQ(ok({"sub", dir_, "jobs", "--durable", "w1", "--no-ack", "-n", "1"}), "jobs 2 j2\n");
    EXPECT_EQ(ok({"sub", dir_, "jobs", "--durable", "w1"}), "jobs 2 j2\njobs 3 j3\njobs 4 j4\n");
    // Everything acknowledged: nothing left, exit 3.
    const Result r = run({"sub", dir_, "jobs", "--durable", "w1"});
    EXPECT_EQ(r.code, kTimeout) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("no record left"), std::string::npos) << r.err;
    // New records come to w1; another id starts from the earliest.
    ok({"pub", dir_, "jobs", "-q", "j5"});
    EXPECT_EQ(ok({"sub", dir_, "jobs", "--durable", "w1"}), "jobs 5 j5\n");
    EXPECT_EQ(ok({"sub", dir_, "jobs", "--durable", "w2", "-n", "1"}), "jobs 0 j0\n");
}

// A durable `sub` writing into a pipe nobody reads blocks once the pipe is
// full; SIGKILLed there, it has acknowledged only lines that are in the pipe.
// The rerun must start exactly at the acknowledged offset: nothing lost, and
// the only duplicates are lines it had written but not yet acknowledged.
TEST_F(CliBroker, DurableSubKilledBySigkillResumesAtItsAck) {
    constexpr int kRecords = 20000;  // ~240 KB of lines: far more than a pipe holds
    std::string input;
    for (int i = 0; i < kRecords; ++i) input += std::to_string(i) + "\n";
    ASSERT_EQ(run_input({"pub", dir_, "k", "-q"}, input).code, kOk);

    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    std::vector<std::string> args = {"sub", dir_, "k", "--durable", "victim"};
    std::vector<char *> argv = cli_argv(args);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], 1);
        ::close(fds[0]);
        ::close(fds[1]);
        ::execv(CQ_CLI, argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    // It fills the pipe and blocks. Wait for that: until the pipe holds
    // data that has not grown over 100 polls 1 ms apart (a fixed pause may
    // be too short for a sanitized build on a loaded machine; a blocked
    // writer leaves the pipe short of F_GETPIPE_SZ, as small writes share
    // its pages only in part). At most 30000 polls.
    int queued = 0, last = -1, unchanged = 0;
    for (int poll = 0; poll < 30000 && unchanged < 100; ++poll) {
        if (::ioctl(fds[0], FIONREAD, &queued) != 0) break;
        unchanged = queued > 0 && queued == last ? unchanged + 1 : 0;
        last = queued;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    cqtest::kill_and_reap(pid, SIGKILL);
    std::string piped;
    char buf[65536];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) piped.append(buf, n);
    ::close(fds[0]);
    piped.erase(piped.rfind('\n') + 1);  // a line cut by the kill does not count
    const long written = std::count(piped.begin(), piped.end(), '\n');
    ASSERT_GT(written, 0);
    ASSERT_LT(written, kRecords) << "the pipe should have stopped it";
    for (long i = 0; i < written; ++i)
        ASSERT_NE(piped.find("k " + std::to_string(i) + " " + std::to_string(i) + "\n"),
                  std::string::npos)
            << "line " << i;

    const std::string lag = ok({"lag", dir_, "--json"});
    unsigned long long acked = 0;
    ASSERT_EQ(std::sscanf(lag.c_str(),
                          "[{\"subscriber\": \"victim\", \"topic\": \"k\", "
                          "\"acked_offset\": %llu",
                          &acked),
              1)
        << lag;
    EXPECT_GT(acked, 0u);
    EXPECT_LE(acked, static_cast<unsigned long long>(written))
        << "acknowledged a line that never reached stdout";

    const std::string rest = ok({"sub", dir_, "k", "--durable", "victim"});
    std::string want;
    for (int i = static_cast<int>(acked); i < kRecords; ++i)
        want += "k " + std::to_string(i) + " " + std::to_string(i) + "\n";
    EXPECT_EQ(rest, want) << "the rerun must start at offset " << acked;
    EXPECT_EQ(ok({"sub", dir_, "k", "--durable", "victim"}, kTimeout), "");
}

TEST_F(CliBroker, SubFromOffsetLatestAndTime) {
    ok({"pub", dir_, "t", "-q", "a", "b", "c"});
    EXPECT_EQ(ok({"sub", dir_, "t", "--from", "offset:1"}), "t 1 b\nt 2 c\n");
    EXPECT_EQ(ok({"sub", dir_, "t", "--from=earliest", "-n", "1"}), "t 0 a\n");
    EXPECT_EQ(ok({"sub", dir_, "t", "--from", "latest"}, kTimeout), "");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int64_t between = realtime_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ok({"pub", dir_, "t", "-q", "d"});
    EXPECT_EQ(ok({"sub", dir_, "t", "--from", "time:" + std::to_string(between)}), "t 3 d\n");
    EXPECT_EQ(ok({"sub", dir_, "t", "--from", "time:2000-01-01T00:00:00Z", "-n", "1"}), "t 0 a\n");
    EXPECT_EQ(ok({"sub", dir_, "t", "--from", "time:2200-01-01T00:00:00.5+02:00"}, kTimeout), "");
}

TEST_F(CliBroker, SubCountAndWait) {
    ok({"pub", dir_, "t", "-q", "a"});
    // Fewer records than -n: what came is printed, exit 3.
    Result r = run({"sub", dir_, "t", "-n", "2"});
    EXPECT_EQ(r.code, kTimeout) << r.err;
    EXPECT_EQ(r.out, "t 0 a\n");
    // --wait=SECONDS gives up after that long without a record.
    const auto t0 = std::chrono::steady_clock::now();
    r = run({"sub", dir_, "t", "--from", "latest", "--wait=0.3"});
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(r.code, kTimeout) << r.err;
    EXPECT_GE(waited, std::chrono::milliseconds(300));
    EXPECT_NE(r.err.find("timed out"), std::string::npos) << r.err;
    // A waiting subscriber gets what is published while it waits.
    const pid_t sub = start(
        tmp_, "waiter", {"sub", dir_, "t", "--from", "offset:1", "--wait=20", "-n", "2"}, nullptr);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ok({"pub", dir_, "t", "-q", "b", "c"});
    r = finish(tmp_, "waiter", sub);
    EXPECT_EQ(r.code, kOk) << r.err;
    EXPECT_EQ(r.out, "t 1 b\nt 2 c\n");
}

TEST_F(CliBroker, TopicsShowEndOffsetSegmentsAndBytes) {
    // Empty directory: only the header.
    ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
    EXPECT_EQ(ok({"topics", dir_}), "TOPIC           END  SEGMENTS           BYTES\n");
    EXPECT_EQ(ok({"topics", dir_, "--json"}), "[]\n");
    ok({"pub", dir_, "small", "-q", "--fsync", "always", "a", "b", "c"});
    // 600 records of 1000 bytes in 64 KiB segments: about 10 segments.
    std::string lines;
    for (int i = 0; i < 600; ++i) lines += std::string(1000, 'x') + "\n";
    const Result r = run_input(
        {"pub", dir_, "big.one", "-q", "--segment-size", "64k", "--fsync=interval"}, lines);
    ASSERT_EQ(r.code, kOk) << r.err;
    const std::string table = ok({"topics", dir_});
    const std::string json = ok({"topics", dir_, "--json"});
    unsigned long long end = 0, segs = 0, bytes = 0;
    ASSERT_EQ(std::sscanf(json.c_str(),
                          "[{\"topic\": \"big.one\", \"end_offset\": %llu, \"segments\": %llu, "
                          "\"bytes\": %llu}, {\"topic\": \"small\", \"end_offset\": 3, ",
                          &end, &segs, &bytes),
              3)
        << json;
    EXPECT_EQ(end, 600u);
    EXPECT_GE(segs, 10u) << json;  // 600 KB of bodies cannot fit fewer
    EXPECT_LE(segs, 12u) << json;
    EXPECT_EQ(bytes, segs * 65536) << json;
    EXPECT_NE(json.find("{\"topic\": \"small\", \"end_offset\": 3, \"segments\": 1, \"bytes\": "
                        "67108864}]\n"),
              std::string::npos)
        << json;
    char row[128];
    std::snprintf(row, sizeof row, "big.one  %12llu  %8llu  %14llu\n", end, segs, bytes);
    EXPECT_NE(table.find(row), std::string::npos) << table << "\nwanted: " << row;
    EXPECT_NE(table.find("small    "), std::string::npos) << table;
}

TEST_F(CliBroker, LagShowsAckedEndAndLagPerSubscriberAndTopic) {
    ok({"pub", dir_, "a.x", "-q", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"});
    ok({"pub", dir_, "a.y", "-q", "1", "2"});
    ok({"sub", dir_, "a.x", "--durable", "slow", "-n", "4"});
    ok({"sub", dir_, "a.*", "--durable", "fast"});
    EXPECT_EQ(ok({"lag", dir_}),
              "SUBSCRIBER  TOPIC         ACKED           END           LAG\n"
              "fast        a.x              10            10             0\n"
              "fast        a.y               2             2             0\n"
              "slow        a.x               4            10             6\n");
    EXPECT_EQ(ok({"lag", dir_, "--json"}),
              "[{\"subscriber\": \"fast\", \"topic\": \"a.x\", \"acked_offset\": 10, "
              "\"end_offset\": 10, \"lag\": 0}, "
              "{\"subscriber\": \"fast\", \"topic\": \"a.y\", \"acked_offset\": 2, "
              "\"end_offset\": 2, \"lag\": 0}, "
              "{\"subscriber\": \"slow\", \"topic\": \"a.x\", \"acked_offset\": 4, "
              "\"end_offset\": 10, \"lag\": 6}]\n");
    // More records raise the lag; --no-ack leaves it.
    ok({"pub", dir_, "a.y", "-q", "3"});
    ok({"sub", dir_, "a.*", "--durable", "fast", "--no-ack"});
    const std::string json = ok({"lag", dir_, "--json"});
    EXPECT_NE(json.find("{\"subscriber\": \"fast\", \"topic\": \"a.y\", \"acked_offset\": 2, "
                        "\"end_offset\": 3, \"lag\": 1}"),
              std::string::npos)
        << json;
}

TEST_F(CliBroker, BadArgumentsGiveTheUsageExitCode) {
    ok({"pub", dir_, "t", "-q", "x"});
    const std::vector<std::vector<std::string>> bad = {
        {"pub"},
        {"pub", dir_},
        {"pub", dir_, "a..b", "x"},
        {"pub", dir_, "a.*", "x"},
        {"pub", dir_, "t", "x", "-"},
        {"pub", dir_, "t", "--fsync", "sometimes", "x"},
        {"pub", dir_, "t", "--segment-size", "1000", "x"},
        {"pub", dir_, "t", "--segment-size", "1G", "x"},
        {"pub", dir_, "t", "--bogus", "x"},
        {"sub", dir_},
        {"sub", dir_, "a.>.b"},
        {"sub", dir_, "t", "extra"},
        {"sub", dir_, "t", "--durable", "no spaces"},
        {"sub", dir_, "t", "--durable"},
        {"sub", dir_, "t", "--no-ack"},
        {"sub", dir_, "t", "--durable", "d", "--ack", "--no-ack"},
        {"sub", dir_, "t", "--from", "yesterday"},
        {"sub", dir_, "t", "--from", "offset:-1"},
        {"sub", dir_, "t", "--from", "time:2026-02-30T00:00:00Z"},
        {"sub", dir_, "t", "-n", "many"},
        {"sub", dir_, "t", "--wait=soon"},
        {"topics"},
        {"topics", dir_, "extra"},
        {"topics", dir_, "--verbose"},
        {"lag"},
        {"lag", dir_, dir_},
        {"demo", "--part", "pool"},
        {"demo", "--records", "0"},
    };
    for (const std::vector<std::string> &args : bad) {
        const Result r = run(args);
        EXPECT_EQ(r.code, kUsage) << describe(args, r);
        EXPECT_NE(r.err.find("Try 'cqueue " + args[0] + " --help'"), std::string::npos)
            << describe(args, r);
        EXPECT_EQ(r.out, "") << describe(args, r);
    }
    // Nothing was published by the rejected commands.
    EXPECT_EQ(ok({"sub", dir_, "t"}), "t 0 x\n");
}

TEST_F(CliBroker, MissingDirectoryIsAnErrorForTheReadingCommands) {
    const std::string missing = tmp_.file("nope");
    for (const char *cmd : {"sub", "topics", "lag"}) {
        std::vector<std::string> args = {cmd, missing};
        if (std::string(cmd) == "sub") args.push_back("t");
        const Result r = run(args);
        EXPECT_EQ(r.code, kFailed) << describe(args, r);
        EXPECT_NE(r.err.find("cqueue " + std::string(cmd) + ": cannot open broker directory"),
                  std::string::npos)
            << describe(args, r);
    }
    EXPECT_NE(::access(missing.c_str(), F_OK), 0) << "a reading command created " << missing;
}

TEST_F(CliBroker, EveryCommandHasHelp) {
    for (const char *cmd : {"pub", "sub", "topics", "lag", "demo"}) {
        const Result r = run({cmd, "--help"});
        EXPECT_EQ(r.code, kOk) << r.err;
        EXPECT_EQ(r.out.rfind(std::string("usage: cqueue ") + cmd, 0), 0u) << r.out;
        EXPECT_NE(r.out.find("Exit codes:"), std::string::npos) << r.out;
    }
    const Result r = run({"--help"});
    for (const char *cmd : {"pub", "sub", "topics", "lag"})
        EXPECT_NE(r.out.find(std::string("\n  ") + cmd + " "), std::string::npos) << r.out;
}

TEST_F(CliBroker, DemoBrokerPartPassesWithAKilledSubscriber) {
    const std::vector<std::string> args = {"demo", "--part",        "broker", "--seconds",
                                           "0.5",  "--records",     "6000",   "--publishers",
                                           "2",    "--subscribers", "2"};
    const Result r = run(args);
    EXPECT_EQ(r.code, kOk) << describe(args, r);
    EXPECT_NE(r.out.find("SIGKILL demo-sub-0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("restarted demo-sub-0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("demo-sub-1        6000 distinct of 6000, 0 duplicate(s)"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("\nPASS: "), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
}

}  // namespace
