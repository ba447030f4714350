// Running the cqueue CLI (tools/cqueue) as the installed program would be: a
// separate process per command, checked by its stdout, stderr and exit code.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/util/test_util.hpp"

namespace cqcli {

// The documented exit codes (cqueue --help).
constexpr int kOk = 0, kFailed = 1, kUsage = 2, kTimeout = 3;

struct Result {
    int code = -1;  // exit code, or 128 + signal
    std::string out, err;
};

inline std::string describe(const std::vector<std::string> &args, const Result &r) {
    std::string cmd = "cqueue";
    for (const std::string &a : args) cmd += " '" + a + "'";
    return cmd + "\n  exit " + std::to_string(r.code) + "\n  stdout: " + r.out +
           "\n  stderr: " + r.err;
}

// Runs the CLI with args; stdin is `input` (or /dev/null), stdout and stderr
// go to files in dir. Starts it and returns its pid; finish() collects it.
// execv's argv for the CLI: "cqueue", args, nullptr (args must outlive it).
inline std::vector<char *> cli_argv(const std::vector<std::string> &args) {
    static char name[] = "cqueue";
    std::vector<char *> argv{name};
    for (const std::string &a : args) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    return argv;
}

inline pid_t start(const cqtest::TempDir &dir, const std::string &tag,
                   const std::vector<std::string> &args, const std::string *input) {
    const std::string in = dir.file(tag + ".in"), out = dir.file(tag + ".out"),
                      err = dir.file(tag + ".err");
    if (input) {
        FILE *f = std::fopen(in.c_str(), "wb");
        EXPECT_NE(f, nullptr);
        std::fwrite(input->data(), 1, input->size(), f);
        std::fclose(f);
    }
    std::vector<char *> argv = cli_argv(args);
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int i = ::open(input ? in.c_str() : "/dev/null", O_RDONLY);
        const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (i < 0 || o < 0 || e < 0) ::_exit(127);
        ::dup2(i, 0);
        ::dup2(o, 1);
        ::dup2(e, 2);
        ::execv(CQ_CLI, argv.data());
        ::_exit(127);
    }
    return pid;
}

inline Result finish(const cqtest::TempDir &dir, const std::string &tag, pid_t pid) {
    const int st = cqtest::wait_status(pid);
    Result r;
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = cqtest::read_file(dir.file(tag + ".out"));
    r.err = cqtest::read_file(dir.file(tag + ".err"));
    return r;
}

// A fixture's runner: numbered output files in a temporary directory.
class Runner : public ::testing::Test {
  protected:
    cqtest::TempDir tmp_;
    int runs_ = 0;

    Result run(const std::vector<std::string> &args) { return run_impl(args, nullptr); }
    Result run_input(const std::vector<std::string> &args, const std::string &input) {
        return run_impl(args, &input);
    }
    Result run_impl(const std::vector<std::string> &args, const std::string *input) {
        const std::string tag = "run" + std::to_string(runs_++);
        return finish(tmp_, tag, start(tmp_, tag, args, input));
    }
    // Runs and expects the exit code; returns stdout.
    std::string ok(const std::vector<std::string> &args, int code = kOk) {
        const Result r = run(args);
        EXPECT_EQ(r.code, code) << describe(args, r);
        return r.out;
    }
};

}  // namespace cqcli
