#include "bench/xproc/procs.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace cqb {

int Backoff::rounds = 8;
uint64_t Backoff::stalls = 0;

void Backoff::pause() {
    // Failed polls read the queue's shared lines and slow the peer that is
    // about to make progress, so wait longer each time (1, 2, 4, ... pauses),
    // then give the CPU away.
    ++stalls;
    if (fails_ < rounds) {
        for (int i = 0; i < (1 << fails_); ++i) cpu_relax();
        ++fails_;
        return;
    }
    sched_yield();
}

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    return cpus;
}

namespace {

struct ReadyCount {
    std::atomic<int> n{0};
};

bool pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0;
}

// Reaps every exited child among pids; records failures. Returns how many
// are still running.
int reap(std::vector<pid_t> &pids, std::string *err) {
    int running = 0;
    for (pid_t &pid : pids) {
        if (pid <= 0) continue;
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == 0) {
            ++running;
            continue;
        }
        if (r == pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            char b[96];
            if (WIFSIGNALED(status))
                std::snprintf(b, sizeof b, "child %d killed by signal %d; ", pid, WTERMSIG(status));
            else
                std::snprintf(b, sizeof b, "child %d exited with %d; ", pid, WEXITSTATUS(status));
            *err += b;
        }
        pid = -1;
    }
    return running;
}

// Busy seconds of the given CPUs so far (user, nice, system, irq, softirq,
// steal), from /proc/stat.
double busy_seconds(const std::set<int> &cpus) {
    static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    std::ifstream in("/proc/stat");
    double total = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("cpu", 0) != 0 || line.size() < 4 || line[3] < '0' || line[3] > '9')
            continue;
        std::istringstream f(line.substr(3));
        int cpu;
        unsigned long long user, nice, system, idle, iowait, irq, softirq, steal = 0;
        f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
        if (cpus.count(cpu))
            total += static_cast<double>(user + nice + system + irq + softirq + steal);
    }
    return total / tick;
}

// CPU seconds of the waited-for children of this process so far.
double children_seconds() {
    rusage ru{};
    getrusage(RUSAGE_CHILDREN, &ru);
    auto s = [](const timeval &t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

// Sleeps until a SIGCHLD arrives (it is blocked) or ms pass.
void wait_sigchld(long ms) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    timespec ts{ms / 1000, (ms % 1000) * 1'000'000};
    sigtimedwait(&s, nullptr, &ts);
}

}  // namespace

bool run_children(const std::vector<Child> &children, double timeout_s, std::string *err,
                  Interference *load) {
    err->clear();
    std::set<int> cpu_set;
    for (const Child &c : children) cpu_set.insert(c.cpu);
    ReadyCount *ready = map_shared<ReadyCount>();
    int go_pipe[2];
    if (pipe(go_pipe) != 0) {
        *err = std::string("pipe: ") + std::strerror(errno);
        unmap_shared(ready);
        return false;
    }
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    std::fflush(stdout);
    std::fflush(stderr);

    std::vector<pid_t> pids;
    for (const Child &c : children) {
        pid_t pid = fork();
        if (pid < 0) {
            *err += std::string("fork: ") + std::strerror(errno) + "; ";
            break;
        }
        if (pid == 0) {
            sigprocmask(SIG_SETMASK, &old, nullptr);
            close(go_pipe[1]);
            if (!pin(c.cpu)) {
                std::fprintf(stderr, "sched_setaffinity(cpu %d): %s\n", c.cpu,
                             std::strerror(errno));
                _exit(90);
            }
            auto go = [&] {
                ready->n.fetch_add(1, std::memory_order_release);
                char b;
                // Returns 0 (end of file) when the parent closes its end.
                while (read(go_pipe[0], &b, 1) < 0 && errno == EINTR) {
                }
            };
            _exit(c.body(go));
        }
        pids.push_back(pid);
    }
    close(go_pipe[0]);

    const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_s * 1e9);
    // Release everybody once all are set up (or someone failed early).
    const int n = static_cast<int>(pids.size());
    while (ready->n.load(std::memory_order_acquire) < n && now_ns() < deadline) {
        if (reap(pids, err) < n) break;
        wait_sigchld(1);
    }
    const double busy0 = busy_seconds(cpu_set), mine0 = children_seconds();
    const uint64_t t0 = now_ns();
    close(go_pipe[1]);
    while (reap(pids, err) > 0) {
        if (now_ns() >= deadline) {
            for (pid_t pid : pids)
                if (pid > 0) kill(pid, SIGKILL);
            *err += "timed out; killed the remaining children; ";
            while (reap(pids, err) > 0) wait_sigchld(10);
            break;
        }
        wait_sigchld(20);
    }
    if (load) {
        load->wall_s = static_cast<double>(now_ns() - t0) / 1e9;
        const double others = (busy_seconds(cpu_set) - busy0) - (children_seconds() - mine0);
        const double capacity = load->wall_s * static_cast<double>(cpu_set.size());
        load->others_share = capacity > 0 ? std::max(0.0, others / capacity) : 0;
    }
    sigprocmask(SIG_SETMASK, &old, nullptr);
    unmap_shared(ready);
    if (pids.size() != children.size() && err->empty()) *err = "not every child started";
    return err->empty();
}

}  // namespace cqb
