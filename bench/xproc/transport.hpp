// A message channel between processes, as one benchmarked IPC mechanism
// provides it. The parent creates the channel before fork() and destroys it
// after its children exited; every child opens its own endpoint after
// fork() (a cqueue handle must never cross a fork).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace cqb {

struct Spec {
    uint32_t depth = 1024;  // messages the channel holds
    uint32_t msg_size = 8;  // bytes of every message (also the largest allowed)
};

// Layout-compatible with cq_rbuf, so the cqueue endpoint passes it through.
struct RecvBuf {
    void *data;
    size_t cap;
    size_t len;
};

class Endpoint {
  public:
    virtual ~Endpoint() = default;
    // One message; waits (the transport's own way) while the channel is full.
    virtual bool send(const void *data, size_t len) = 0;
    // n messages of len bytes each; one at a time unless the transport batches.
    virtual bool send_many(const void *const *data, size_t len, int n) {
        for (int i = 0; i < n; ++i)
            if (!send(data[i], len)) return false;
        return true;
    }
    // 1..max messages: returns how many, 0 when the channel is empty and this
    // endpoint does not block (poll again), -1 on error.
    virtual int recv(RecvBuf *bufs, int max) = 0;
    // Whether recv waits for a message (never returns 0).
    virtual bool blocking() const = 0;
    // Text of the last failure.
    const std::string &error() const { return err_; }

  protected:
    std::string err_;
};

class Transport {
  public:
    virtual ~Transport() = default;
    virtual std::string label() const = 0;
    // Messages a producer hands over, and a consumer asks for, per call.
    virtual int batch() const { return 1; }
    // Parent, before fork. On failure returns false and sets *err.
    virtual bool create(const Spec &spec, std::string *err) = 0;
    // Child, after fork. nullptr and *err on failure.
    virtual std::unique_ptr<Endpoint> open(std::string *err) = 0;
    // Parent, after the children exited.
    virtual void destroy() = 0;
};

// A name no other run of this or another bench process uses.
std::string unique_name(const char *prefix);

enum class CqMode {
    spin,   // cq_enqueue / cq_dequeue, the caller polls
    wait,   // cq_enqueue_wait / cq_dequeue_wait (spin, then futex)
    batch,  // cq_enqueue_batch / cq_dequeue_batch of 32
};
std::unique_ptr<Transport> make_cqueue(CqMode mode);
std::unique_ptr<Transport> make_boost_mq();
std::unique_ptr<Transport> make_posix_mq();
std::unique_ptr<Transport> make_pipe();
// One producer, one consumer, messages of up to 56 bytes: the ceiling for a line per message.
std::unique_ptr<Transport> make_line_ring();
// One producer, one consumer over linked, recycled nodes: the ceiling for that
// shape; with cas_link, the producer links with a CAS as several producers must.
std::unique_ptr<Transport> make_linked_ceiling(bool cas_link);

}  // namespace cqb
