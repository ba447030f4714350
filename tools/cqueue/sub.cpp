// cqueue sub: subscribe to a topic pattern of a broker directory and print the
// records as "TOPIC OFFSET MESSAGE" lines; a durable subscriber acknowledges
// each record once it was written out, so that a rerun resumes after it.
#include <cqueue/cqueue.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "args.hpp"
#include "broker_cli.hpp"
#include "cli.hpp"
#include "clock.hpp"
#include "commands.hpp"
#include "format.hpp"
#include "interrupt.hpp"
#include "wait_option.hpp"

namespace cqcli {

namespace {

constexpr std::string_view kSubHelp =
    "usage: cqueue sub DIR PATTERN [--durable ID [--no-ack]] [--from POSITION]\n"
    "                  [-n COUNT] [--wait[=SECONDS]]\n"
    "\n"
    "Subscribe to the topics matching PATTERN in the broker directory DIR and print\n"
    "each record on its own line on stdout:\n"
    "\n"
    "  TOPIC OFFSET MESSAGE\n"
    "\n"
    "MESSAGE is the record's bytes as they are when they are printable UTF-8 (no\n"
    "control characters but tab) and do not start with 'hex:'; otherwise 'hex:'\n"
    "and the bytes in lowercase hex ('hex:00ff0a'). An empty record prints as\n"
    "nothing after the offset. Records of one topic come in offset order.\n"
    "\n"
    "PATTERN is a topic or a pattern: '*' matches one token, a final '>' one or\n"
    "more ('orders.*.eu', 'orders.>'). Topics created later that match are picked\n"
    "up while the command runs.\n"
    "\n"
    "  --durable ID        a durable subscription named ID (1-128 characters of\n"
    "                      [A-Za-z0-9_-]): it starts after the records ID has\n"
    "                      acknowledged, and acknowledges each record once its line\n"
    "                      was written to stdout, so a rerun with the same ID resumes\n"
    "                      after it (a record printed but not yet acknowledged when\n"
    "                      the command is killed comes again: at least once)\n"
    "  --ack, --no-ack     with --durable: acknowledge (default), or only look and\n"
    "                      leave ID's position where it was\n"
    "  --from POSITION     where to start in each topic that has no acknowledgement\n"
    "                      of ID (and every topic without --durable):\n"
    "                        earliest    the oldest retained record (default)\n"
    "                        latest      the next record published\n"
    "                        offset:N    offset N (clamped to the retained records)\n"
    "                        time:T      the first record published at or after T:\n"
    "                                    RFC 3339 (2026-11-23T19:56:14Z, with an\n"
    "                                    optional fraction and +hh:mm offset) or\n"
    "                                    nanoseconds since the Unix epoch\n"
    "  -n, --count COUNT   stop after COUNT records (default 0: no limit)\n"
    "  --wait[=SECONDS]    when no record is left, wait for more (forever, or until\n"
    "                      none came for SECONDS); without it, stop when none is left\n"
    "\n"
    "SIGINT and SIGTERM stop it cleanly (the records printed are acknowledged).\n"
    "\n"
    "Exit codes: 0 COUNT records printed (without -n: at least one), 1 library or\n"
    "system error (e.g. no such directory, a record failed its checksum), 2 usage\n"
    "error, 3 no record was left or the wait timed out (or was interrupted) before\n"
    "COUNT (without -n: before the first record); what came is printed.\n";

constexpr size_t kBatch = 256;                 // records per broker_poll_batch
constexpr int64_t kWaitSliceNs = 100'000'000;  // a waiting sub checks for signals this often

struct Start {
    uint32_t kind;
    int64_t value;
};

Start parse_from(const Args &args) {
    const std::optional<std::string> v = args.value("from");
    if (!v || *v == "earliest") return {CQ_START_EARLIEST, 0};
    if (*v == "latest") return {CQ_START_LATEST, 0};
    const std::string_view text = *v;
    if (text.starts_with("offset:")) {
        const std::optional<uint64_t> n = parse_u64(text.substr(7));
        if (n && *n <= static_cast<uint64_t>(INT64_MAX))
            return {CQ_START_OFFSET, static_cast<int64_t>(*n)};
    } else if (text.starts_with("time:")) {
        const std::string_view t = text.substr(5);
        std::optional<int64_t> ns = parse_rfc3339_ns(t);
        if (!ns) {
            const std::optional<uint64_t> n = parse_u64(t);
            if (n && *n <= static_cast<uint64_t>(INT64_MAX)) ns = static_cast<int64_t>(*n);
        }
        if (ns) return {CQ_START_TIME, *ns};
    }
    throw UsageError(
        "--from must be earliest, latest, offset:N or time:T (RFC 3339 or nanoseconds), not '" +
        *v + "'");
}

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF)
// without C0/C1 control characters or DEL; tab is allowed.
bool printable(const unsigned char *p, size_t len) {
    size_t i = 0;
    while (i < len) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
            ++i;
            continue;
        }
        uint32_t cp;
        const size_t n = utf8_decode(p + i, len - i, &cp);
        if (n == 0 || (cp >= 0x80 && cp <= 0x9f))  // C1 controls
            return false;
        i += n;
    }
    return true;
}

void print_record(const cq_message &m) {
    const auto *p = static_cast<const unsigned char *>(m.data);
    std::printf("%s %llu ", m.topic, static_cast<unsigned long long>(m.offset));
    const bool looks_hex = m.len >= 4 && std::equal(p, p + 4, "hex:");
    if (!looks_hex && printable(p, m.len)) {
        std::fwrite(p, 1, m.len, stdout);
    } else {
        static constexpr char kDigits[] = "0123456789abcdef";
        std::fputs("hex:", stdout);
        for (size_t i = 0; i < m.len; ++i) {
            std::putc(kDigits[p[i] >> 4], stdout);
            std::putc(kDigits[p[i] & 15], stdout);
        }
    }
    std::putc('\n', stdout);
}

// The last offset of each topic in a batch: what one broker_ack per topic covers.
class AckBatch {
  public:
    void add(const cq_message &m) {
        for (auto &[topic, offset] : last_)
            if (topic == m.topic) {
                offset = std::max(offset, m.offset);
                return;
            }
        last_.emplace_back(m.topic, m.offset);
    }
    void ack(cq_subscription *s) {
        for (const auto &[topic, offset] : last_)
            check(broker_ack(s, topic.c_str(), offset),
                  "acknowledging " + topic + " offset " + std::to_string(offset));
        last_.clear();
    }

  private:
    std::vector<std::pair<std::string, uint64_t>> last_;
};

}  // namespace

int run_sub(int argc, char **argv) {
    static constexpr OptSpec kSpecs[] = {
        {"durable", 0, ArgKind::value}, {"ack", 0, ArgKind::flag},
        {"no-ack", 0, ArgKind::flag},   {"from", 0, ArgKind::value},
        {"count", 'n', ArgKind::value}, {"wait", 0, ArgKind::optional_value},
    };
    Args args(argc, argv, 2, kSpecs);
    if (args.has("help")) return print_help(kSubHelp);
    const std::vector<std::string> &pos = args.positional();
    if (pos.empty()) throw UsageError("missing DIR");
    if (pos.size() < 2) throw UsageError("missing PATTERN");
    if (pos.size() > 2) throw UsageError("unexpected argument '" + pos[2] + "'");
    const std::string &dir = pos[0], &pattern = pos[1];
    require_pattern(pattern, "PATTERN");
    const std::optional<std::string> durable = args.value("durable");
    if (durable) require_subscriber_id(*durable, "--durable");
    if (args.has("ack") && args.has("no-ack")) throw UsageError("--ack and --no-ack conflict");
    if (!durable && (args.has("ack") || args.has("no-ack")))
        throw UsageError("--ack and --no-ack need --durable ID");
    const bool ack = durable && !args.has("no-ack");
    const Start start = parse_from(args);
    const uint64_t count = args.u64("count", 0, 0, UINT64_MAX);
    const int64_t timeout = wait_timeout_ns(args);

    BrokerPtr b = open_existing_broker(dir);
    cq_subscribe_options so = CQ_SUBSCRIBE_OPTIONS_INIT;
    so.pattern = pattern.c_str();
    so.subscriber_id = durable ? durable->c_str() : nullptr;
    so.flags = durable ? CQ_SUB_DURABLE : 0;
    so.start = start.kind;
    so.start_value = start.value;
    SubscriptionPtr s = subscribe(b.get(), so);

    InterruptGuard interrupts;
    // Acknowledged lines must be out of the process first; waiting, show each batch at once.
    const bool flush_each = ack || timeout != CQ_NO_WAIT || isatty(STDOUT_FILENO);
    std::vector<cq_message> msgs(kBatch);
    AckBatch acks;
    uint64_t got = 0;
    int64_t idle_since = now_ns();
    std::string stopped;  // why it stopped before COUNT
    while (count == 0 || got < count) {
        if (InterruptGuard::interrupted()) {
            stopped = "interrupted";
            break;
        }
        int64_t slice = 0;
        if (timeout == CQ_WAIT_FOREVER) {
            slice = kWaitSliceNs;
        } else if (timeout != CQ_NO_WAIT) {
            const int64_t left = idle_since + timeout - now_ns();
            if (left <= 0) {
                stopped = "the wait timed out";
                break;
            }
            slice = std::min(left, kWaitSliceNs);
        }
        const size_t want = count == 0 ? kBatch : std::min<uint64_t>(kBatch, count - got);
        const int n = broker_poll_batch(s.get(), msgs.data(), want, slice);
        if (n == CQ_ETIMEDOUT) {
            if (timeout != CQ_NO_WAIT) continue;
            stopped = "no record left";
            break;
        }
        check(n, std::to_string(got) + " record(s) printed before it");
        for (int i = 0; i < n; ++i) {
            print_record(msgs[i]);
            if (ack) acks.add(msgs[i]);
        }
        got += static_cast<uint64_t>(n);
        if (flush_each && std::fflush(stdout) != 0) throw SysError("writing stdout failed");
        if (ack) acks.ack(s.get());
        idle_since = now_ns();
    }
    if (std::fflush(stdout) != 0) throw SysError("writing stdout failed");
    // Persists what is pending (an ack past the topic's durable end waits for it).
    check(broker_unsubscribe(s.release()), "unsubscribing");
    check(broker_close(b.release()), "closing the broker");
    if (stopped.empty() || (count == 0 && got > 0)) return kExitOk;
    std::fprintf(stderr, "cqueue sub: %s (%llu record(s) printed)\n", stopped.c_str(),
                 static_cast<unsigned long long>(got));
    return kExitTimeout;
}

}  // namespace cqcli
