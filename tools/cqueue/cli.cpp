#include "cli.hpp"

#include <sys/types.h>

#include <cstdio>
#include <cstdlib>

namespace cqcli {

LibError::LibError(int code_, std::string detail_, std::string context_)
    : std::runtime_error(cq_strerror(code_)),
      code(code_),
      detail(std::move(detail_)),
      context(std::move(context_)) {}

std::string describe(const LibError &e) {
    std::string text = e.what();
    if (!e.detail.empty()) text += ": " + e.detail;
    if (!e.context.empty()) text += " (" + e.context + ")";
    return text;
}

void throw_lib(int rc, const std::string &context) {
    std::string detail = cq_last_error();  // before any other library call
    throw LibError(rc, std::move(detail), context);
}

int check(int rc, const std::string &context) {
    if (rc < 0) throw_lib(rc, context);
    return rc;
}

std::string lib_message(int rc) {
    std::string detail = cq_last_error();
    return std::string(cq_strerror(rc)) + ": " + detail;
}

int exit_code_for(int rc) {
    switch (rc) {
        case CQ_EEMPTY:
        case CQ_EFULL:
        case CQ_ETIMEDOUT:
            return kExitTimeout;
        default:
            return kExitFailed;
    }
}

QueuePtr open_queue(const std::string &name, uint32_t flags, const cq_queue_options *create) {
    cq_queue_options o = CQ_QUEUE_OPTIONS_INIT;
    if (create) o = *create;
    o.flags = flags;
    cq_queue *q = nullptr;
    check(cq_open(name.c_str(), &o, &q));
    return QueuePtr(q);
}

cq_queue_stats queue_stats(cq_queue *q) {
    cq_queue_stats s = CQ_QUEUE_STATS_INIT;
    check(cq_stats(q, &s));
    return s;
}

void for_each_stdin_line(const std::function<void(const char *, size_t)> &each) {
    // Frees the buffer getline() (re)allocates, also when each() throws.
    struct LineBuffer {
        char *data = nullptr;
        size_t cap = 0;
        ~LineBuffer() { std::free(data); }
    } line;
    for (;;) {
        ssize_t n = ::getline(&line.data, &line.cap, stdin);
        if (n < 0) break;
        size_t len = static_cast<size_t>(n);
        if (len > 0 && line.data[len - 1] == '\n') --len;
        each(line.data, len);
    }
    if (std::ferror(stdin)) throw SysError("reading stdin failed");
}

}  // namespace cqcli
