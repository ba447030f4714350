// What every cqueue command shares: the exit codes, the two kinds of error
// (usage and library) and the RAII handle on a queue.
#pragma once

#include <cqueue/cqueue.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace cqcli {

// The documented exit codes of the tool.
enum Exit : int {
    kExitOk = 0,
    kExitFailed = 1,   // the library (or the system) reported an error
    kExitUsage = 2,    // bad command line
    kExitTimeout = 3,  // timed out, queue empty, or queue full without --wait
    kExitVerify = 4,   // demo: verification failed
};

// A malformed command line. main prints it with a hint to --help.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A failed library call: the code and the thread's cq_last_error() text,
// captured at once (the text is only valid until the next library call).
struct LibError : std::runtime_error {
    LibError(int code, std::string detail, std::string context = {});
    int code;
    std::string detail;
    std::string context;  // e.g. "message 3"; may be empty
};

// A failure of the operating system or of the tool itself (not the library).
struct SysError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// "strerror: detail (context)", the text after "cqueue CMD: " on stderr. The
// detail is left out when the library gave none (some fast-path failures).
std::string describe(const LibError &e);

// Throws LibError when rc < 0; returns rc otherwise.
int check(int rc, const std::string &context = {});
[[noreturn]] void throw_lib(int rc, const std::string &context = {});
// "strerror: detail" for a code, reading cq_last_error() first.
std::string lib_message(int rc);
// The exit code for a library error code: 3 for empty/full/timed out, 1 otherwise.
int exit_code_for(int rc);

struct QueueCloser {
    void operator()(cq_queue *q) const noexcept { cq_close(q); }
};
using QueuePtr = std::unique_ptr<cq_queue, QueueCloser>;

// cq_open with the given flags (and creation options); throws LibError.
QueuePtr open_queue(const std::string &name, uint32_t flags = 0,
                    const cq_queue_options *create = nullptr);
// cq_stats with struct_size set; throws LibError.
cq_queue_stats queue_stats(cq_queue *q);

// Removes a queue when it goes out of scope (demo and bench queues).
class UnlinkGuard {
  public:
    explicit UnlinkGuard(std::string name) : name_(std::move(name)) {}
    ~UnlinkGuard() { cq_unlink(name_.c_str()); }
    UnlinkGuard(const UnlinkGuard &) = delete;
    UnlinkGuard &operator=(const UnlinkGuard &) = delete;

  private:
    std::string name_;
};

// Calls each(line, len) for every line of stdin, without its '\n'; throws
// SysError if reading fails (send and pub).
void for_each_stdin_line(const std::function<void(const char *, size_t)> &each);

}  // namespace cqcli
