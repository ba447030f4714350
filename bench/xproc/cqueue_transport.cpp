// cqueue through its public C API, in three ways of calling it.
#include <cqueue/cqueue.h>

#include <cstddef>

#include "bench/xproc/procs.hpp"
#include "bench/xproc/transport.hpp"

namespace cqb {

static_assert(sizeof(RecvBuf) == sizeof(cq_rbuf) &&
              offsetof(RecvBuf, data) == offsetof(cq_rbuf, data) &&
              offsetof(RecvBuf, cap) == offsetof(cq_rbuf, cap) &&
              offsetof(RecvBuf, len) == offsetof(cq_rbuf, len));

namespace {

constexpr int kBatch = 32;

std::string cq_error(const char *what, int rc) {
    return std::string(what) + ": " + cq_strerror(rc) + " (" + cq_last_error() + ")";
}

class CqEndpoint final : public Endpoint {
  public:
    CqEndpoint(cq_queue *q, CqMode mode) : q_(q), mode_(mode) {}
    ~CqEndpoint() override { cq_close(q_); }

    bool send(const void *data, size_t len) override {
        if (mode_ == CqMode::wait) return check(cq_enqueue_wait(q_, data, len, CQ_WAIT_FOREVER));
        Backoff b;
        for (;;) {
            int rc = cq_enqueue(q_, data, len);
            if (rc != CQ_EFULL) return check(rc);
            b.pause();
        }
    }

    bool send_many(const void *const *data, size_t len, int n) override {
        if (mode_ != CqMode::batch) return Endpoint::send_many(data, len, n);
        cq_iov iov[kBatch];
        Backoff b;
        for (int done = 0; done < n;) {
            const int k = n - done < kBatch ? n - done : kBatch;
            for (int i = 0; i < k; ++i) iov[i] = cq_iov{data[done + i], len};
            int rc = cq_enqueue_batch(q_, iov, static_cast<size_t>(k));
            if (rc > 0) {
                done += rc;  // the longest prefix that found free nodes
                b.reset();
            } else if (rc == CQ_EFULL) {
                b.pause();
            } else {
                return check(rc);
            }
        }
        return true;
    }

    int recv(RecvBuf *bufs, int max) override {
        int rc;
        if (mode_ == CqMode::batch) {
            rc = cq_dequeue_batch(q_, reinterpret_cast<cq_rbuf *>(bufs), static_cast<size_t>(max));
        } else if (mode_ == CqMode::wait) {
            rc = cq_dequeue_wait(q_, bufs[0].data, bufs[0].cap, &bufs[0].len, CQ_WAIT_FOREVER);
            if (rc == CQ_OK) rc = 1;
        } else {
            rc = cq_dequeue(q_, bufs[0].data, bufs[0].cap, &bufs[0].len);
            if (rc == CQ_OK) rc = 1;
        }
        if (rc > 0) return rc;
        if (rc == CQ_EEMPTY) return 0;
        err_ = cq_error("dequeue", rc);
        return -1;
    }

    bool blocking() const override { return mode_ == CqMode::wait; }

  private:
    bool check(int rc) {
        if (rc == CQ_OK) return true;
        err_ = cq_error("enqueue", rc);
        return false;
    }

    cq_queue *q_;
    CqMode mode_;
};

class CqTransport final : public Transport {
  public:
    explicit CqTransport(CqMode mode) : mode_(mode) {}

    std::string label() const override {
        switch (mode_) {
            case CqMode::spin:
                return "cqueue";
            case CqMode::wait:
                return "cqueue (dequeue_wait)";
            case CqMode::batch:
                return "cqueue batch(32)";
        }
        return "cqueue";
    }
    int batch() const override { return mode_ == CqMode::batch ? kBatch : 1; }

    bool create(const Spec &spec, std::string *err) override {
        name_ = unique_name("cqbench");
        cq_queue_options o;
        cq_queue_options_init(&o);
        o.flags = CQ_CREATE | CQ_EXCL;
        o.capacity = spec.depth;
        o.max_message_size = spec.msg_size;
        cq_queue *q = nullptr;
        int rc = cq_open(name_.c_str(), &o, &q);
        if (rc != CQ_OK) {
            *err = cq_error("cq_open(create)", rc);
            return false;
        }
        // The parent only creates: children open their own handles.
        cq_close(q);
        return true;
    }

    std::unique_ptr<Endpoint> open(std::string *err) override {
        cq_queue *q = nullptr;
        cq_queue_options o;
        cq_queue_options_init(&o);  // no CQ_CREATE: the parent made it
        int rc = cq_open(name_.c_str(), &o, &q);
        if (rc != CQ_OK) {
            *err = cq_error("cq_open", rc);
            return nullptr;
        }
        return std::make_unique<CqEndpoint>(q, mode_);
    }

    void destroy() override { cq_unlink(name_.c_str()); }

  private:
    CqMode mode_;
    std::string name_;
};

}  // namespace

std::unique_ptr<Transport> make_cqueue(CqMode mode) {
    return std::make_unique<CqTransport>(mode);
}

}  // namespace cqb
