// An anonymous pipe with fixed-size messages. Writes of at most PIPE_BUF
// bytes are atomic, so several writers and readers keep message boundaries.
// A pipe cannot be opened by name: children inherit its descriptors across
// fork() instead of opening it themselves. Its capacity is the kernel's
// default (64 KiB), not the depth of the spec.
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench/xproc/transport.hpp"

namespace cqb {
namespace {

std::string sys_error(const char *what) {
    return std::string(what) + ": " + std::strerror(errno);
}

class PipeEndpoint final : public Endpoint {
  public:
    PipeEndpoint(int rfd, int wfd, size_t msg_size) : rfd_(rfd), wfd_(wfd), size_(msg_size) {}

    bool send(const void *data, size_t len) override {
        for (;;) {
            ssize_t n = write(wfd_, data, len);
            if (n == static_cast<ssize_t>(len)) return true;
            if (n < 0 && errno == EINTR) continue;
            err_ = n < 0 ? sys_error("write") : "short write on a pipe";
            return false;
        }
    }

    int recv(RecvBuf *bufs, int) override {
        // Messages are all size_ bytes; a reader takes exactly one.
        char *p = static_cast<char *>(bufs[0].data);
        size_t got = 0;
        while (got < size_) {
            ssize_t n = read(rfd_, p + got, size_ - got);
            if (n > 0) {
                got += static_cast<size_t>(n);
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else {
                err_ = n < 0 ? sys_error("read") : "pipe closed";
                return -1;
            }
        }
        bufs[0].len = got;
        return 1;
    }

    bool blocking() const override { return true; }

  private:
    int rfd_, wfd_;
    size_t size_;
};

class PipeTransport final : public Transport {
  public:
    ~PipeTransport() override { destroy(); }

    std::string label() const override { return "pipe"; }

    bool create(const Spec &spec, std::string *err) override {
        if (spec.msg_size > PIPE_BUF) {
            *err = "pipe messages above PIPE_BUF are not atomic";
            return false;
        }
        if (pipe(fds_) != 0) {
            *err = sys_error("pipe");
            return false;
        }
        size_ = spec.msg_size;
        return true;
    }

    std::unique_ptr<Endpoint> open(std::string *) override {
        return std::make_unique<PipeEndpoint>(fds_[0], fds_[1], size_);
    }

    void destroy() override {
        for (int &fd : fds_) {
            if (fd >= 0) close(fd);
            fd = -1;
        }
    }

  private:
    int fds_[2] = {-1, -1};
    size_t size_ = 0;
};

}  // namespace

std::unique_ptr<Transport> make_pipe() {
    return std::make_unique<PipeTransport>();
}

}  // namespace cqb
