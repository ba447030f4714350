#include "bench/xproc/machine.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cqb {
namespace {

std::string trim(std::string s) {
    const char *ws = " \t\r\n";
    s.erase(0, s.find_first_not_of(ws));
    s.erase(s.find_last_not_of(ws) + 1);
    return s;
}

std::string lscpu_model_name() {
    std::string model;
    if (FILE *f = popen("lscpu 2>/dev/null", "r")) {
        char line[512];
        while (std::fgets(line, sizeof line, f)) {
            std::string l(line);
            if (l.rfind("Model name:", 0) == 0) model = trim(l.substr(11));
        }
        pclose(f);
    }
    if (model.empty()) {  // no lscpu: /proc/cpuinfo says the same
        std::ifstream in("/proc/cpuinfo");
        for (std::string l; std::getline(in, l);)
            if (l.rfind("model name", 0) == 0) {
                model = trim(l.substr(l.find(':') + 1));
                break;
            }
    }
    return model.empty() ? "unknown" : model;
}

long read_long(const char *path) {
    std::ifstream in(path);
    long v = -1;
    in >> v;
    return in ? v : -1;
}

bool write_long(const char *path, long v) {
    std::ofstream out(path);
    out << v << '\n';
    out.flush();
    return static_cast<bool>(out);
}

constexpr const char *kMsgMax = "/proc/sys/fs/mqueue/msg_max";

}  // namespace

std::string machine_description() {
    utsname u{};
    uname(&u);
    std::ostringstream s;
    s << "cpu: " << lscpu_model_name() << "\n"
      << "nproc: " << sysconf(_SC_NPROCESSORS_ONLN) << "\n"
      << "kernel: " << u.sysname << ' ' << u.release << ' ' << u.version << ' ' << u.machine;
    return s.str();
}

std::string machine_line() {
    utsname u{};
    uname(&u);
    return lscpu_model_name() + ", " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
           " CPUs online, " + u.sysname + " " + u.release + ", load average " + load_average();
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string l;
    std::getline(in, l);
    return l;
}

bool membarrier_expedited_available() {
    long mask = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0u, 0);
    return mask > 0 && (mask & MEMBARRIER_CMD_GLOBAL_EXPEDITED);
}

MqMsgMax::MqMsgMax(long want) {
    original_ = effective_ = read_long(kMsgMax);
    if (original_ < 0) {
        note_ = "could not read " + std::string(kMsgMax);
        return;
    }
    if (original_ >= want) {
        note_ = std::string(kMsgMax) + " = " + std::to_string(original_) + " (left as is)";
        return;
    }
    if (geteuid() == 0 && write_long(kMsgMax, want) && read_long(kMsgMax) == want) {
        raised_ = true;
        effective_ = want;
        note_ = "running as root: raised " + std::string(kMsgMax) + " from " +
                std::to_string(original_) + " to " + std::to_string(want) +
                " for this run (restored at exit)";
    } else {
        note_ = std::string(kMsgMax) + " = " + std::to_string(original_) +
                " and could not be raised (not root): POSIX mq runs with that depth";
    }
}

MqMsgMax::~MqMsgMax() {
    if (raised_) write_long(kMsgMax, original_);
}

std::map<std::string, double> read_gbench_medians(const std::string &path) {
    // Google Benchmark writes one "key": value pair per line; a run's "name"
    // comes before its "cpu_time". Enough parsing for our own output. CPU
    // time, not real time: the runs are single-threaded, and on a shared
    // machine real time also counts the slices other processes took.
    std::map<std::string, double> out;
    std::ifstream in(path);
    std::string name;
    auto value_of = [](const std::string &l) { return trim(l.substr(l.find(':') + 1)); };
    for (std::string l; std::getline(in, l);) {
        l = trim(l);
        if (l.rfind("\"name\":", 0) == 0) {
            std::string v = value_of(l);
            name = v.size() >= 3 ? v.substr(1, v.rfind('"') - 1) : "";
        } else if (l.rfind("\"cpu_time\":", 0) == 0 && name.size() > 7 &&
                   name.compare(name.size() - 7, 7, "_median") == 0) {
            out[name.substr(0, name.size() - 7)] = std::strtod(value_of(l).c_str(), nullptr);
        }
    }
    return out;
}

}  // namespace cqb
