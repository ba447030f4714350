#include "broker_cli.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "args.hpp"
#include "cli.hpp"

namespace cqcli {

namespace {

using TextFn = int (*)(cq_broker *, char *, size_t, size_t *);

std::string read_text(cq_broker *b, TextFn fn, const char *what) {
    std::string buf(16384, '\0');
    for (int attempt = 0;; ++attempt) {
        size_t needed = 0;
        const int rc = fn(b, buf.data(), buf.size(), &needed);
        // The text may grow between two calls (another process publishes to a
        // new topic): ask again with room to spare, a few times.
        if (rc == CQ_EMSGSIZE && attempt < 8 && needed > buf.size()) {
            buf.assign(needed + needed / 4 + 1024, '\0');
            continue;
        }
        check(rc, what);
        buf.resize(std::strlen(buf.c_str()));
        return buf;
    }
}

// "name{a=\"x\",b=\"y\"} value": the name, the labels and the value.
struct Sample {
    std::string_view name;
    std::vector<std::pair<std::string_view, std::string>> labels;
    uint64_t value = 0;
    std::string label(std::string_view key) const {
        for (const auto &[k, v] : labels)
            if (k == key) return v;
        return {};
    }
};

[[noreturn]] void bad_line(std::string_view line, const char *why) {
    throw SysError("cannot read broker_metrics line '" + std::string(line) + "': " + why);
}

Sample parse_sample(std::string_view line) {
    Sample s;
    size_t i = line.find_first_of("{ ");
    if (i == std::string_view::npos || i == 0) bad_line(line, "no metric name");
    s.name = line.substr(0, i);
    if (line[i] == '{') {
        ++i;
        while (i < line.size() && line[i] != '}') {
            const size_t eq = line.find('=', i);
            if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"')
                bad_line(line, "malformed label");
            const std::string_view key = line.substr(i, eq - i);
            std::string value;
            size_t j = eq + 2;
            for (; j < line.size() && line[j] != '"'; ++j) {
                if (line[j] == '\\' && j + 1 < line.size()) {
                    ++j;
                    value += line[j] == 'n' ? '\n' : line[j];
                } else {
                    value += line[j];
                }
            }
            if (j >= line.size()) bad_line(line, "unterminated label value");
            s.labels.emplace_back(key, std::move(value));
            i = j + 1;
            if (i < line.size() && line[i] == ',') ++i;
        }
        if (i >= line.size()) bad_line(line, "unterminated labels");
        ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') bad_line(line, "no value");
    std::optional<uint64_t> v = parse_u64(line.substr(i + 1));
    if (!v) bad_line(line, "the value is not a whole number");
    s.value = *v;
    return s;
}

TopicMetrics &topic_entry(BrokerMetrics &m, const std::string &name) {
    for (TopicMetrics &t : m.topics)
        if (t.topic == name) return t;
    m.topics.push_back({});
    m.topics.back().topic = name;
    return m.topics.back();
}

SubscriberMetrics &subscriber_entry(BrokerMetrics &m, const std::string &id,
                                    const std::string &topic) {
    for (SubscriberMetrics &s : m.subscribers)
        if (s.subscriber == id && s.topic == topic) return s;
    m.subscribers.push_back({});
    m.subscribers.back().subscriber = id;
    m.subscribers.back().topic = topic;
    return m.subscribers.back();
}

}  // namespace

BrokerPtr open_broker(const std::string &dir, const cq_broker_options *opts) {
    cq_broker *b = nullptr;
    check(broker_open(dir.c_str(), opts, &b));
    return BrokerPtr(b);
}

BrokerPtr open_existing_broker(const std::string &dir) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0)
        throw SysError("cannot open broker directory " + dir + ": " + std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) throw SysError(dir + " is not a directory");
    return open_broker(dir);
}

SubscriptionPtr subscribe(cq_broker *b, const cq_subscribe_options &opts) {
    cq_subscription *s = nullptr;
    check(broker_subscribe_ex(b, &opts, &s));
    return SubscriptionPtr(s);
}

// The library's own rules (broker_name_valid); string_view may not end in NUL.
bool valid_topic(std::string_view topic) {
    return broker_name_valid(std::string(topic).c_str(), CQ_NAME_TOPIC) == 1;
}

bool valid_pattern(std::string_view pattern) {
    return broker_name_valid(std::string(pattern).c_str(), CQ_NAME_PATTERN) == 1;
}

bool valid_subscriber_id(std::string_view id) {
    return broker_name_valid(std::string(id).c_str(), CQ_NAME_SUBSCRIBER) == 1;
}

void require_topic(std::string_view topic, std::string_view what) {
    if (!valid_topic(topic))
        throw UsageError(std::string(what) + " '" + std::string(topic) +
                         "' is not a topic name (tokens of [A-Za-z0-9_-] joined by '.', at "
                         "most 255 bytes)");
}

void require_pattern(std::string_view pattern, std::string_view what) {
    if (!valid_pattern(pattern))
        throw UsageError(std::string(what) + " '" + std::string(pattern) +
                         "' is not a topic pattern (tokens of [A-Za-z0-9_-] or '*' joined by "
                         "'.', optionally ending in '.>')");
}

void require_subscriber_id(std::string_view id, std::string_view what) {
    if (!valid_subscriber_id(id))
        throw UsageError(std::string(what) + " '" + std::string(id) +
                         "' is not a subscriber id (1 to 128 characters of [A-Za-z0-9_-])");
}

std::string topics_text(cq_broker *b) {
    return read_text(b, broker_topics, "broker_topics");
}

std::string metrics_text(cq_broker *b) {
    return read_text(b, broker_metrics, "broker_metrics");
}

const TopicMetrics *BrokerMetrics::find_topic(std::string_view name) const {
    for (const TopicMetrics &t : topics)
        if (t.topic == name) return &t;
    return nullptr;
}

BrokerMetrics parse_metrics(std::string_view text) {
    BrokerMetrics m;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        const std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty() || line[0] == '#') continue;
        const Sample s = parse_sample(line);
        if (s.name.starts_with("cqueue_topic_")) {
            const std::string topic = s.label("topic");
            if (topic.empty()) bad_line(line, "no topic label");
            TopicMetrics &t = topic_entry(m, topic);
            if (s.name == "cqueue_topic_end_offset") t.end_offset = s.value;
            if (s.name == "cqueue_topic_segments") t.segments = s.value;
            if (s.name == "cqueue_topic_bytes") t.bytes = s.value;
            if (s.name == "cqueue_topic_durable_offset") t.durable_offset = s.value;
            if (s.name == "cqueue_topic_holes_skipped_total") t.holes_skipped = s.value;
            if (s.name == "cqueue_topic_sync_failed") t.sync_failed = s.value;
        } else if (s.name.starts_with("cqueue_subscriber_")) {
            const std::string id = s.label("subscriber"), topic = s.label("topic");
            if (id.empty() || topic.empty()) bad_line(line, "no subscriber or topic label");
            SubscriberMetrics &e = subscriber_entry(m, id, topic);
            if (s.name == "cqueue_subscriber_acked_offset") e.acked_offset = s.value;
            if (s.name == "cqueue_subscriber_lag_records") e.lag_records = s.value;
        }
    }
    std::sort(m.subscribers.begin(), m.subscribers.end(),
              [](const SubscriberMetrics &a, const SubscriberMetrics &b) {
                  return a.subscriber != b.subscriber ? a.subscriber < b.subscriber
                                                      : a.topic < b.topic;
              });
    return m;
}

}  // namespace cqcli
