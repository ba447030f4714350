// The cqueue CLI's queue commands (create, send, recv, stat, recover, rm,
// bench) and the demo's queue part, run as the installed program would be.
#include <cqueue/cqueue.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/cli/cli_run.hpp"
#include "tests/util/test_util.hpp"

namespace {

using namespace cqcli;

// The number printed right after `label` in `out`; ~0 if the label is missing.
uint64_t number_after(const std::string &out, const std::string &label) {
    const size_t at = out.find(label);
    if (at == std::string::npos) return ~uint64_t{0};
    return std::strtoull(out.c_str() + at + label.size(), nullptr, 10);
}

class CliQueue : public Runner {
  protected:
    void TearDown() override { cq_unlink(name_.c_str()); }
    const std::string name_ = cqtest::unique_name("cli");
};

TEST_F(CliQueue, CreateSendStatRecvRm) {
    EXPECT_NE(ok({"create", name_, "--capacity", "4", "--max-size", "16"}).find("created queue"),
              std::string::npos);
    ok({"create", name_, "--excl"}, kFailed);
    ok({"send", name_, "a", "b c"});
    const std::string json = ok({"stat", name_, "--json"});
    for (const char *field : {"\"capacity\": 4", "\"max_message_size\": 16", "\"length\": 2",
                              "\"free_nodes\": 2", "\"enqueued\": 2", "\"dequeued\": 0"})
        EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
    EXPECT_NE(ok({"stat", name_}).find("length            2"), std::string::npos);
    EXPECT_EQ(ok({"recv", name_, "-n", "0"}), "a\nb c\n");
    EXPECT_EQ(ok({"recv", name_}, kTimeout), "");  // empty: exit 3
    EXPECT_EQ(ok({"recover", name_}), "0\n");
    ok({"rm", name_});
    const Result r = run({"rm", name_});
    EXPECT_EQ(r.code, kFailed);
    EXPECT_NE(r.err.find("cqueue rm: "), std::string::npos) << r.err;
}

TEST_F(CliQueue, SendReadsStdinLinesAndRefusesWhatDoesNotFit) {
    ok({"create", name_, "--capacity", "8", "--max-size", "4"});
    EXPECT_EQ(run_input({"send", name_}, "x\nyy\n").code, kOk);
    const Result r = run({"send", name_, "ok", "too long"});
    EXPECT_EQ(r.code, kFailed);
    EXPECT_NE(r.err.find("1 sent before it"), std::string::npos) << r.err;
    EXPECT_EQ(ok({"recv", name_, "-n", "3"}), "x\nyy\nok\n");
}

TEST_F(CliQueue, WaitsTimeOutWithExitCode3) {
    ok({"create", name_, "--capacity", "1", "--max-size", "8"});
    ok({"send", name_, "a"});
    EXPECT_EQ(run({"send", name_, "--wait=0.1", "b"}).code, kTimeout);  // full
    EXPECT_EQ(ok({"recv", name_, "--wait=0.1", "-n", "2"}, kTimeout), "a\n");
    EXPECT_EQ(ok({"send", name_, "--wait=1", "c"}), "");  // room again: no wait
    EXPECT_EQ(ok({"recv", name_, "--wait"}), "c\n");
}

TEST_F(CliQueue, EveryQueueCommandHasHelpAndRefusesUnknownOptions) {
    for (const char *cmd : {"create", "send", "recv", "stat", "recover", "rm", "bench", "demo"}) {
        const std::string help = ok({cmd, "--help"});
        EXPECT_EQ(help.rfind(std::string("usage: cqueue ") + cmd, 0), 0u) << help;
        EXPECT_EQ(run({cmd, "--no-such-option"}).code, kUsage) << cmd;
    }
    EXPECT_EQ(run({"stat"}).code, kUsage);  // NAME missing
    // Not permission bits: a usage error, like any bad option value.
    for (const char *mode : {"1777", "4600", "8", "-1", ""})
        EXPECT_EQ(run({"create", name_, "--mode", mode}).code, kUsage) << mode;
}

// A path may hold any bytes; JSON text is UTF-8. A byte that starts no
// well-formed sequence is printed as U+FFFD, well-formed ones as they are.
TEST_F(CliQueue, StatJsonOfANameThatIsNotUtf8IsStillUtf8) {
    cqtest::TempDir dir;
    const std::string path = dir.file("q-\xff-\xc3\xa9-\xed\xa0\x80");
    ok({"create", path, "--capacity", "4"});
    const std::string json = ok({"stat", path, "--json"});
    EXPECT_NE(json.find("q-\\ufffd-\xc3\xa9-\\ufffd\\ufffd\\ufffd"), std::string::npos) << json;
    EXPECT_EQ(json.find('\xff'), std::string::npos) << json;
    EXPECT_EQ(json.find('\xed'), std::string::npos) << json;  // a surrogate's bytes
    ok({"rm", path});
}

TEST_F(CliQueue, BenchPrintsItsTable) {
    const std::string out = ok({"bench", "--messages", "20000", "--size", "8"});
    EXPECT_NE(out.find("msgs/s"), std::string::npos) << out;
}

TEST_F(CliQueue, DemoQueuePartPassesWithAKilledConsumerAndProducer) {
    const std::vector<std::string> args = {"demo", "--part",      "queue", "--seconds",
                                           "0.5",  "--messages",  "20000", "--producers",
                                           "2",    "--consumers", "2"};
    const Result r = run(args);
    EXPECT_EQ(r.code, kOk) << describe(args, r);
    EXPECT_NE(r.out.find("SIGKILL consumer 0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("SIGKILL producer 0"), std::string::npos) << r.out;
    // A consumer killed between cq_dequeue_batch and recording loses what it
    // held (up to one batch) and producer 0's message in cq_enqueue at its
    // kill may not have been linked: every message is delivered or one of those.
    const uint64_t delivered = number_after(r.out, "delivered         ");
    const uint64_t lost = number_after(r.out, "lost              ");
    const uint64_t allowed = number_after(r.out, "(allowed up to ");
    uint64_t not_linked = 0;
    for (size_t at = r.out.find("not delivered: the kill came before"); at != std::string::npos;
         at = r.out.find("not delivered: the kill came before", at + 1))
        ++not_linked;
    EXPECT_EQ(delivered + lost + not_linked, 20000u) << r.out;
    EXPECT_LE(lost, allowed) << r.out;
    EXPECT_NE(r.out.find(" of 20000 messages"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\nPASS: "), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
}

}  // namespace
