#include "proc.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>

#include "cli.hpp"

namespace cqcli {

namespace {
// In a new child: die with the parent, so that a parent killed with SIGKILL
// leaves no worker spinning (Linux; the library needs Linux anyway).
void die_with_parent(pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(kExitFailed);  // the parent died before prctl
}
}  // namespace

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int i = 0; i < CPU_SETSIZE; ++i)
            if (CPU_ISSET(i, &set)) cpus.push_back(i);
    }
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

bool pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0;
}

std::string machine_summary() {
    std::string out;
    utsname u{};
    if (uname(&u) == 0) out = std::string(u.sysname) + " " + u.release + " " + u.machine;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    out += ", " + std::to_string(online) + " CPUs online (" +
           std::to_string(allowed_cpus().size()) + " usable)";
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.starts_with("model name")) {
            size_t colon = line.find(':');
            if (colon != std::string::npos && colon + 2 <= line.size())
                out += ", " + line.substr(colon + 2);
            break;
        }
    }
    return out;
}

std::string command_line(int argc, char **argv) {
    std::string out;
    for (int i = 0; i < argc; ++i) {
        if (i) out += ' ';
        std::string a = argv[i];
        bool plain = !a.empty() && a.find_first_not_of(
                                       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789._-=/:,+") == std::string::npos;
        out += plain ? a : "'" + a + "'";
    }
    return out;
}

std::string ExitStatus::describe() const {
    if (exited) return "exit code " + std::to_string(code);
    return std::string("killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) +
           ")";
}

pid_t Children::fork_run(const std::string &who, const std::function<int()> &body) {
    std::fflush(nullptr);  // nothing buffered may be written twice
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) throw SysError(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) {
        die_with_parent(parent);
        int code = kExitFailed;
        try {
            code = body();
        } catch (const LibError &e) {
            std::fprintf(stderr, "cqueue %s: %s\n", who.c_str(), describe(e).c_str());
        } catch (const std::exception &e) {
            std::fprintf(stderr, "cqueue %s: %s\n", who.c_str(), e.what());
        }
        std::fflush(nullptr);
        _exit(code);  // no destructors: the parent's objects are not ours
    }
    pids_.push_back(pid);
    return pid;
}

pid_t Children::spawn_self(const std::vector<std::string> &args) {
    std::vector<char *> argv;
    static char self_name[] = "cqueue";
    argv.push_back(self_name);
    for (const std::string &a : args) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    std::fflush(nullptr);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) throw SysError(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) {
        die_with_parent(parent);
        execv("/proc/self/exe", argv.data());
        const char msg[] = "cqueue: cannot exec /proc/self/exe\n";
        ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)ignored;
        _exit(127);
    }
    pids_.push_back(pid);
    return pid;
}

bool Children::wait(pid_t pid, ExitStatus *status, bool block) {
    int st = 0;
    pid_t r;
    do {
        r = waitpid(pid, &st, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR && block);
    if (r == 0) return false;
    if (r < 0) throw SysError(std::string("waitpid failed: ") + std::strerror(errno));
    forget(pid);
    ExitStatus s;
    if (WIFEXITED(st)) {
        s.exited = true;
        s.code = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
        s.signal = WTERMSIG(st);
    }
    if (status) *status = s;
    return true;
}

void Children::kill(pid_t pid, int sig) {
    if (running(pid)) ::kill(pid, sig);
}

void Children::kill_all() {
    for (pid_t pid : pids_) ::kill(pid, SIGKILL);
    for (pid_t pid : pids_) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
    pids_.clear();
}

bool Children::running(pid_t pid) const {
    return std::find(pids_.begin(), pids_.end(), pid) != pids_.end();
}

void Children::forget(pid_t pid) {
    pids_.erase(std::remove(pids_.begin(), pids_.end(), pid), pids_.end());
}

}  // namespace cqcli
