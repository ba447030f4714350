// Child process of the broker tests (fork + exec, so each is a real, separate
// process with its own mappings):
//   pub DIR TOPIC TAG FROM TO [LOG]    publish "TAG:i" for i in [FROM, TO); with LOG,
//                                      append "TAG:i\n" to it after each publish returned
//   sub DIR PATTERN ID OUT EXPECT      durable subscriber: append "topic offset data\n"
//                                      to OUT (O_APPEND), ack after it; stop after EXPECT
//                                      distinct records in total (restarts included,
//                                      counted from OUT) or 20 s of silence
// Exit status 0 on success, 1 on an API error (printed on stderr).
#include <cqueue/cqueue.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace {

int die(const char *what, int r) {
    std::fprintf(stderr, "broker worker: %s: %s (%s)\n", what, cq_strerror(r), cq_last_error());
    return 1;
}

int pub(const char *dir, const char *topic, const char *tag, long from, long to, const char *log) {
    cq_broker *b;
    if (int r = broker_open(dir, nullptr, &b)) return die("broker_open", r);
    int fd = log ? ::open(log, O_WRONLY | O_APPEND | O_CREAT, 0600) : -1;
    for (long i = from; i < to; ++i) {
        std::string m = std::string(tag) + ":" + std::to_string(i);
        if (int r = broker_publish(b, topic, m.data(), m.size(), nullptr))
            return die("broker_publish", r);
        m += "\n";
        if (fd >= 0 && ::write(fd, m.data(), m.size()) != static_cast<ssize_t>(m.size())) return 1;
    }
    if (fd >= 0) ::close(fd);
    broker_close(b);
    return 0;
}

int sub(const char *dir, const char *pattern, const char *id, const char *out, long expect) {
    std::set<std::string> seen;  // what earlier lives of this subscriber wrote
    {
        std::ifstream in(out);
        std::string line;
        while (std::getline(in, line)) seen.insert(line.substr(line.find(' ') + 1));
    }
    cq_broker *b;
    if (int r = broker_open(dir, nullptr, &b)) return die("broker_open", r);
    cq_subscription *s;
    if (int r = broker_subscribe(b, pattern, id, CQ_SUB_DURABLE | CQ_SUB_EARLIEST, &s))
        return die("broker_subscribe", r);
    int fd = ::open(out, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0) return 1;
    // Acks every 16 records and whenever the topic goes quiet (each ack is a
    // file write and rename): a kill redelivers at most the unacked ones.
    std::string last_topic;
    uint64_t last_offset = 0;
    int unacked = 0, quiet_ms = 0;
    auto ack = [&]() -> int {
        if (unacked == 0) return 0;
        unacked = 0;
        return broker_ack(s, last_topic.c_str(), last_offset);
    };
    while (static_cast<long>(seen.size()) < expect && quiet_ms < 20000) {
        cq_message m;
        int r = broker_poll(s, &m, 50'000'000);
        if (r == CQ_ETIMEDOUT) {
            quiet_ms += 50;
            if ((r = ack())) return die("broker_ack", r);
            continue;
        }
        if (r) return die("broker_poll", r);
        quiet_ms = 0;
        std::string line = std::string(m.topic) + " " + std::to_string(m.offset) + " " +
                           std::string(static_cast<const char *>(m.data), m.len) + "\n";
        if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 1;
        if (!last_topic.empty() && last_topic != m.topic && (r = ack()))
            return die("broker_ack", r);
        last_topic = m.topic;
        last_offset = m.offset;
        if (++unacked == 16 && (r = ack())) return die("broker_ack", r);
        seen.insert(line.substr(line.find(' ') + 1, line.size() - line.find(' ') - 2));
    }
    if (int r = ack()) return die("broker_ack", r);
    ::close(fd);
    broker_unsubscribe(s);
    broker_close(b);
    return static_cast<long>(seen.size()) >= expect ? 0 : 2;
}

}  // namespace

int main(int argc, char **argv) {
    if ((argc == 7 || argc == 8) && !std::strcmp(argv[1], "pub"))
        return pub(argv[2], argv[3], argv[4], std::atol(argv[5]), std::atol(argv[6]),
                   argc == 8 ? argv[7] : nullptr);
    if (argc == 7 && !std::strcmp(argv[1], "sub"))
        return sub(argv[2], argv[3], argv[4], argv[5], std::atol(argv[6]));
    std::fprintf(stderr, "usage: see the comment at the top of broker_worker.cpp\n");
    return 64;
}
