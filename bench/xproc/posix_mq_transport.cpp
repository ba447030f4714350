// POSIX message queues (mq_send / mq_receive): one system call per message.
// The depth is limited by /proc/sys/fs/mqueue/msg_max (see main.cpp).
#include <fcntl.h>
#include <mqueue.h>

#include <cerrno>
#include <cstring>

#include "bench/xproc/transport.hpp"

namespace cqb {
namespace {

std::string sys_error(const char *what) {
    return std::string(what) + ": " + std::strerror(errno);
}

class MqEndpoint final : public Endpoint {
  public:
    explicit MqEndpoint(mqd_t mq) : mq_(mq) {}
    ~MqEndpoint() override { mq_close(mq_); }

    bool send(const void *data, size_t len) override {
        while (mq_send(mq_, static_cast<const char *>(data), len, 0) != 0) {
            if (errno == EINTR) continue;
            err_ = sys_error("mq_send");
            return false;
        }
        return true;
    }

    int recv(RecvBuf *bufs, int) override {
        for (;;) {
            ssize_t n = mq_receive(mq_, static_cast<char *>(bufs[0].data), bufs[0].cap, nullptr);
            if (n >= 0) {
                bufs[0].len = static_cast<size_t>(n);
                return 1;
            }
            if (errno == EINTR) continue;
            err_ = sys_error("mq_receive");
            return -1;
        }
    }

    bool blocking() const override { return true; }

  private:
    mqd_t mq_;
};

class MqTransport final : public Transport {
  public:
    std::string label() const override { return "POSIX mq"; }

    bool create(const Spec &spec, std::string *err) override {
        name_ = unique_name("/cqbench-mq");
        mq_attr attr{};
        attr.mq_maxmsg = spec.depth;
        attr.mq_msgsize = spec.msg_size;
        mqd_t mq = mq_open(name_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
        if (mq == static_cast<mqd_t>(-1)) {
            *err = sys_error("mq_open(create)") + " (depth " + std::to_string(spec.depth) + ")";
            return false;
        }
        mq_close(mq);
        return true;
    }

    std::unique_ptr<Endpoint> open(std::string *err) override {
        mqd_t mq = mq_open(name_.c_str(), O_RDWR);
        if (mq == static_cast<mqd_t>(-1)) {
            *err = sys_error("mq_open");
            return nullptr;
        }
        return std::make_unique<MqEndpoint>(mq);
    }

    void destroy() override { mq_unlink(name_.c_str()); }

  private:
    std::string name_;
};

}  // namespace

std::unique_ptr<Transport> make_posix_mq() {
    return std::make_unique<MqTransport>();
}

}  // namespace cqb
