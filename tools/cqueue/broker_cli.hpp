// What the broker commands (pub, sub, topics, lag and the demo's pub/sub
// part) share: RAII handles on a broker and a subscription, checks of topic
// names, patterns and subscriber ids (so that a bad one is a usage error, not a
// library error), and the library's text outputs (broker_topics,
// broker_metrics) read into strings and parsed.
#pragma once

#include <cqueue/cqueue.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cqcli {

struct BrokerCloser {
    void operator()(cq_broker *b) const noexcept { broker_close(b); }
};
using BrokerPtr = std::unique_ptr<cq_broker, BrokerCloser>;

struct SubscriptionCloser {
    void operator()(cq_subscription *s) const noexcept { broker_unsubscribe(s); }
};
using SubscriptionPtr = std::unique_ptr<cq_subscription, SubscriptionCloser>;

// broker_open; throws LibError. opts may be null (defaults).
BrokerPtr open_broker(const std::string &dir, const cq_broker_options *opts = nullptr);
// As open_broker, but DIR must already be a directory (SysError otherwise):
// for the commands that only read, so that a typo does not create a broker.
BrokerPtr open_existing_broker(const std::string &dir);
// broker_subscribe_ex; throws LibError.
SubscriptionPtr subscribe(cq_broker *b, const cq_subscribe_options &opts);

// The naming rules of broker.h (checked by broker_name_valid): tokens
// [A-Za-z0-9_-]+ joined by '.', at most 255 bytes; a pattern may use '*' for a
// token and '>' as the last token.
bool valid_topic(std::string_view topic);
bool valid_pattern(std::string_view pattern);
// 1..128 bytes of [A-Za-z0-9_-].
bool valid_subscriber_id(std::string_view id);
// UsageError naming the option or argument (what) unless valid.
void require_topic(std::string_view topic, std::string_view what);
void require_pattern(std::string_view pattern, std::string_view what);
void require_subscriber_id(std::string_view id, std::string_view what);

// The text of broker_topics / broker_metrics (retrying while it grows).
std::string topics_text(cq_broker *b);
std::string metrics_text(cq_broker *b);

// One topic's numbers from broker_metrics (cqueue_topic_* lines).
struct TopicMetrics {
    std::string topic;
    uint64_t end_offset = 0;      // next offset to be appended
    uint64_t segments = 0;        // segment files
    uint64_t bytes = 0;           // size of those files
    uint64_t durable_offset = 0;  // records below it are synced per the fsync policy
    uint64_t holes_skipped = 0;
    uint64_t sync_failed = 0;
};

// One durable subscriber's position in one topic (cqueue_subscriber_* lines).
struct SubscriberMetrics {
    std::string subscriber;
    std::string topic;
    uint64_t acked_offset = 0;  // next offset after its last ack: it resumes there
    uint64_t lag_records = 0;   // end offset - acked offset
};

struct BrokerMetrics {
    std::vector<TopicMetrics> topics;            // in the order of the text
    std::vector<SubscriberMetrics> subscribers;  // sorted by subscriber, then topic
    const TopicMetrics *find_topic(std::string_view name) const;
};

// Parses the Prometheus text of broker_metrics; metrics it does not know are
// skipped. Throws SysError on a line it cannot read.
BrokerMetrics parse_metrics(std::string_view text);

}  // namespace cqcli
