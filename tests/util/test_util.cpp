#include "tests/util/test_util.hpp"

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cqtest {

std::string unique_name(const std::string &tag) {
    static std::atomic<int> n{0};
    return "cqt-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

uint64_t seed_for(const std::string &test) {
    uint64_t seed;
    if (const char *s = std::getenv("CQ_TEST_SEED"))
        seed = std::strtoull(s, nullptr, 0);
    else
        seed = std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32);
    std::printf("[ seed     ] %s: seed=%llu (replay: CQ_TEST_SEED=%llu)\n", test.c_str(),
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
    std::fflush(stdout);
    return seed;
}

pid_t spawn(const std::string &program, const std::vector<std::string> &args) {
    std::vector<char *> argv;
    argv.push_back(const_cast<char *>(program.c_str()));
    for (auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    // A busy machine may refuse a fork for a moment (EAGAIN); any other
    // failure ends the test here, before a pid of -1 reaches kill(), where
    // it would mean every process we may signal.
    for (int tries = 0; pid < 0 && errno == EAGAIN && tries < 100; ++tries) {
        ::usleep(10'000);
        pid = ::fork();
    }
    if (pid < 0) {
        std::perror("fork");
        std::abort();
    }
    if (pid == 0) {
        ::execv(program.c_str(), argv.data());
        std::perror("execv");
        ::_exit(127);
    }
    return pid;
}

int wait_status(pid_t pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}

void kill_and_reap(pid_t pid, int sig) {
    if (pid <= 0) return;  // never kill(-1) or our own process group
    ::kill(pid, sig);
    wait_status(pid);
}

TempDir::TempDir() {
    char tmpl[] = "/tmp/cqtest-XXXXXX";
    const char *p = ::mkdtemp(tmpl);
    path_ = p ? p : "/tmp";
}

TempDir::~TempDir() {
    // Depth first: broker directories nest (topics/T/segments, subs/ID/acks).
    ::nftw(
        path_.c_str(),
        [](const char *p, const struct stat *, int, struct FTW *) { return ::remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
}

std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace cqtest
