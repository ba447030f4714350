// A broker handle: the directory, its control file and this handle's slot,
// the topics it has opened, the INTERVAL fsync thread; and subscriptions,
// which are cursors over topics' logs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/broker/topic.hpp"
#include "core/shm/fd.hpp"

namespace cq::broker {

class Broker {
  public:
    static Errc open(const std::string &dir, const Options &opts, std::unique_ptr<Broker> *out);
    ~Broker();
    Errc close();

    Errc topic(std::string_view name, bool create, std::shared_ptr<Topic> *out);
    Errc publish(std::string_view topic, const Message *msgs, size_t n, uint64_t *first,
                 size_t *done);
    // Names of the topics on disk now, sorted.
    Errc topic_names(std::vector<std::string> *out) const;

    Context &ctx() { return ctx_; }
    BrokerControl &control() const { return *ctl_; }
    HandleStats &stats() { return stats_; }
    // Sticky: an fdatasync failed in a topic this handle opened.
    bool any_sync_failed();
    std::string metrics();

  private:
    Broker() = default;
    Errc open_control();
    Errc claim_slot();
    Errc recover_topic(const std::string &name, bool whole);
    bool live(uint32_t slot, uint64_t gen) const;
    void interval_loop();

    std::string dir_;
    Context ctx_;
    HandleStats stats_;
    Fd ctl_fd_;
    Mapping ctl_map_;
    BrokerControl *ctl_ = nullptr;
    int slot_ = -1;
    mutable std::mutex topics_mu_;
    std::map<std::string, std::shared_ptr<Topic>, std::less<>> topics_;  // found by string_view
    std::thread interval_;
    std::mutex interval_mu_;
    std::condition_variable interval_cv_;
    bool stopping_ = false;
};

struct StartSpec {
    enum Kind { deflt = 0, earliest = 1, latest = 2, offset = 3, time = 4 } kind = deflt;
    int64_t value = 0;
};

struct Delivered {
    uint64_t offset;
    int64_t timestamp_ns;
    const char *topic;
    const void *data;
    size_t len;
};

struct SubStats {
    bool durable = false;
    uint64_t delivered = 0, missed = 0, next_offset = 0, acked_offset = 0, end_offset = 0,
             durable_offset = 0, lag_records = 0, lag_bytes = 0;
};

class Subscription {
  public:
    static Errc create(Broker *b, const std::string &pattern, const char *id, bool durable,
                       bool earliest_flag, StartSpec start, std::unique_ptr<Subscription> *out);
    ~Subscription();
    // Up to max records; waits up to timeout_ns for the first.
    Errc poll(Delivered *out, size_t max, int64_t timeout_ns, size_t *got);
    Errc ack(const std::string &topic, uint64_t offset);
    Errc seek(const char *topic, uint64_t offset);
    Errc seek_time(int64_t ts);
    Errc stats(const std::string &topic, SubStats *out);
    Errc close();  // persists what is pending
    // Ends a poll in progress (Errc::canceled); callable from any thread
    // while another polls. Other pollers of the directory wake and sleep again.
    void interrupt();

  private:
    struct Cursor;
    Subscription() = default;
    Errc refresh_topics(bool initial);
    Errc add_cursor(const std::string &name, bool initial);
    Errc position(Cursor &c, uint64_t offset, bool count_missed);
    Errc position_latest(Cursor &c);
    Errc position_time(Cursor &c, int64_t ts);
    // One step of cursor c: a record (true), or nothing now.
    Errc step(Cursor &c, Delivered *out, bool *got, uint64_t *wake_at);
    Errc persist(Cursor &c);

    Broker *b_ = nullptr;
    std::string pattern_, id_;
    bool durable_ = false, earliest_ = false;
    StartSpec start_;
    std::vector<std::unique_ptr<Cursor>> cursors_;
    size_t rr_ = 0;
    uint32_t topic_gen_ = 0;
    std::vector<std::shared_ptr<Segment>> hold_;  // keeps delivered data mapped until the next poll
    std::atomic<uint32_t> interrupts_{0};         // interrupt() calls; a poll ends when it moves
};

}  // namespace cq::broker
