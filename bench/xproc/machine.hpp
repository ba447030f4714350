// What the harness reports about where it ran, the system knob POSIX mq
// needs, and the in-process figures it takes from bench_queue_gbench.
#pragma once

#include <map>
#include <string>

namespace cqb {

// "model name, N CPUs online, kernel ..." lines for the report header.
std::string machine_description();
// The same on one line, with the load average: the "# machine:" line of
// bench_pool and bench_broker.
std::string machine_line();
// /proc/loadavg, as one line.
std::string load_average();
// Whether MEMBARRIER_CMD_GLOBAL_EXPEDITED is available (the library's
// recovery gate then costs a compiler barrier instead of a full fence).
bool membarrier_expedited_available();

// Raises /proc/sys/fs/mqueue/msg_max to at least `want` if needed and
// possible (root), and restores the old value on destruction.
class MqMsgMax {
  public:
    explicit MqMsgMax(long want);
    ~MqMsgMax();
    MqMsgMax(const MqMsgMax &) = delete;
    MqMsgMax &operator=(const MqMsgMax &) = delete;
    long effective() const { return effective_; }  // the limit now
    const std::string &note() const { return note_; }

  private:
    long original_ = -1, effective_ = -1;
    bool raised_ = false;
    std::string note_;
};

// name -> cpu_time in ns of the "_median" aggregates in a Google Benchmark
// JSON file (--benchmark_out=... --benchmark_out_format=json with
// repetitions). Empty if the file is missing or has none.
std::map<std::string, double> read_gbench_medians(const std::string &path);

}  // namespace cqb
