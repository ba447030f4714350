// cqueue pub: publish the arguments, or the lines of stdin, one record each,
// to a topic of a broker directory, and print their offsets.
#include <cqueue/cqueue.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "args.hpp"
#include "broker_cli.hpp"
#include "cli.hpp"
#include "commands.hpp"

namespace cqcli {

namespace {

constexpr std::string_view kPubHelp =
    "usage: cqueue pub DIR TOPIC [-q] [--fsync POLICY] [--segment-size BYTES]\n"
    "                  [--] [MSG...|-]\n"
    "\n"
    "Publish each MSG as one record to TOPIC of the broker in directory DIR (created\n"
    "if missing; the topic too), and print each record's offset on its own line.\n"
    "With no MSG, or with '-' alone, publish each line of stdin (without its\n"
    "newline) as one record, as it arrives. Use -- before messages that start with\n"
    "'-'. TOPIC is tokens of [A-Za-z0-9_-] joined by '.', e.g. orders.eu.\n"
    "\n"
    "  -q, --quiet            do not print the offsets\n"
    "  --fsync POLICY         when a publish returns (default none):\n"
    "                           none      in the page cache: survives the crash of a\n"
    "                                     process, not of the machine\n"
    "                           interval  as none, and synced every 100 ms and at\n"
    "                                     exit\n"
    "                           group     once synced; concurrent publishers (of any\n"
    "                                     process) share one fdatasync\n"
    "                           always    one fdatasync per record\n"
    "  --segment-size BYTES   size of the segment files this command creates, a\n"
    "                         multiple of 4096 from 64k to 256M (suffix k, M or G;\n"
    "                         default 64M); existing segments keep theirs\n"
    "\n"
    "Exit codes: 0 all published, 1 library or system error (e.g. a message larger\n"
    "than the segment allows, an I/O error), 2 usage error, 3 a publish timed out or\n"
    "was refused because a durable subscriber lags behind retention. On failure\n"
    "stderr says how many records were published before it.\n";

uint32_t fsync_policy(const Args &args) {
    const std::optional<std::string> v = args.value("fsync");
    if (!v) return CQ_FSYNC_NONE;
    if (*v == "none") return CQ_FSYNC_NONE;
    if (*v == "interval") return CQ_FSYNC_INTERVAL;
    if (*v == "group") return CQ_FSYNC_GROUP;
    if (*v == "always") return CQ_FSYNC_ALWAYS;
    throw UsageError("--fsync must be none, interval, group or always, not '" + *v + "'");
}

uint64_t segment_size(const Args &args) {
    const std::optional<std::string> v = args.value("segment-size");
    if (!v) return CQ_BROKER_DEFAULT_SEGMENT_SIZE;
    const std::optional<uint64_t> n = parse_size(*v);
    if (!n || *n < CQ_BROKER_MIN_SEGMENT_SIZE || *n > CQ_BROKER_MAX_SEGMENT_SIZE || *n % 4096 != 0)
        throw UsageError("--segment-size must be a multiple of 4096 from 64k to 256M, not '" + *v +
                         "'");
    return *n;
}

class Publisher {
  public:
    Publisher(cq_broker *b, std::string topic, bool quiet, bool flush_each)
        : b_(b), topic_(std::move(topic)), quiet_(quiet), flush_each_(flush_each) {}

    void publish(const char *data, size_t len) {
        uint64_t offset = 0;
        const int rc = broker_publish(b_, topic_.c_str(), data, len, &offset);
        if (rc < 0)
            throw_lib(rc, "record " + std::to_string(published_ + 1) + "; " +
                              std::to_string(published_) + " published before it");
        ++published_;
        if (quiet_) return;
        std::printf("%llu\n", static_cast<unsigned long long>(offset));
        if (flush_each_) std::fflush(stdout);
    }

  private:
    cq_broker *b_;
    std::string topic_;
    bool quiet_;
    bool flush_each_;
    uint64_t published_ = 0;
};

void publish_stdin_lines(Publisher &pub) {
    for_each_stdin_line([&](const char *line, size_t len) { pub.publish(line, len); });
}

// stdin is a pipe or a terminal: lines come one by one, show each offset at once.
bool stdin_is_stream() {
    struct stat st;
    return fstat(STDIN_FILENO, &st) != 0 || !S_ISREG(st.st_mode);
}

}  // namespace

int run_pub(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {
        {"quiet", 'q', ArgKind::flag},
        {"fsync", 0, ArgKind::value},
        {"segment-size", 0, ArgKind::value},
    };
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help")) return print_help(kPubHelp);
    const std::vector<std::string> &pos = args.positional();
    if (pos.empty()) throw UsageError("missing DIR");
    if (pos.size() < 2) throw UsageError("missing TOPIC");
    const std::string &dir = pos[0], &topic = pos[1];
    require_topic(topic, "TOPIC");
    const bool from_stdin = pos.size() == 2 || (pos.size() == 3 && pos[2] == "-");
    if (!from_stdin)
        for (size_t i = 2; i < pos.size(); ++i)
            if (pos[i] == "-")
                throw UsageError("'-' (read stdin) cannot be combined with MSG arguments");
    cq_broker_options o = CQ_BROKER_OPTIONS_INIT;
    o.fsync_policy = fsync_policy(args);
    o.segment_size = segment_size(args);
    const bool quiet = args.has("quiet");

    BrokerPtr b = open_broker(dir, &o);
    Publisher pub(b.get(), topic, quiet, from_stdin && stdin_is_stream());
    if (from_stdin) {
        publish_stdin_lines(pub);
    } else {
        for (size_t i = 2; i < pos.size(); ++i) pub.publish(pos[i].data(), pos[i].size());
    }
    if (std::fflush(stdout) != 0) throw SysError("writing stdout failed");
    // The last sync (fsync interval) happens here: its failure is the command's.
    check(broker_close(b.release()), "closing the broker");
    return kExitOk;
}

}  // namespace cqcli
