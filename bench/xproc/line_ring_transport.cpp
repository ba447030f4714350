// A ceiling, not a queue: one producer and one consumer over a ring of
// one-cache-line slots, each with a full flag, no atomic read-modify-write.
// Every message's line goes to the consumer and comes back (flag cleared) to
// be written again, as a cqueue node goes out as a message and comes back as
// a free node. No design that gives each message its own line can beat this
// rate on the same CPUs; cqueue adds the links, the CASes and recovery.
#include <atomic>
#include <cstring>

#include "bench/xproc/procs.hpp"
#include "bench/xproc/transport.hpp"

namespace cqb {
namespace {

struct alignas(64) Slot {
    std::atomic<uint32_t> full{0};
    uint32_t len = 0;
    char data[56];
};

class LineRingEndpoint final : public Endpoint {
  public:
    LineRingEndpoint(Slot *slots, uint32_t depth) : slots_(slots), depth_(depth) {}

    bool send(const void *data, size_t len) override {
        Slot &s = slots_[next_send_++ % depth_];
        Backoff b;
        while (s.full.load(std::memory_order_acquire)) b.pause();
        s.len = static_cast<uint32_t>(len);
        std::memcpy(s.data, data, len);
        s.full.store(1, std::memory_order_release);
        return true;
    }

    int recv(RecvBuf *bufs, int) override {
        Slot &s = slots_[next_recv_ % depth_];
        if (!s.full.load(std::memory_order_acquire)) return 0;
        bufs[0].len = s.len;
        std::memcpy(bufs[0].data, s.data, s.len);
        s.full.store(0, std::memory_order_release);
        ++next_recv_;
        return 1;
    }

    bool blocking() const override { return false; }

  private:
    Slot *slots_;
    uint32_t depth_;
    uint64_t next_send_ = 0, next_recv_ = 0;
};

class LineRingTransport final : public Transport {
  public:
    std::string label() const override { return "ceiling: line per msg"; }

    bool create(const Spec &spec, std::string *err) override {
        if (spec.msg_size > sizeof(Slot::data)) {
            *err = "line ring: messages must fit a slot";
            return false;
        }
        depth_ = spec.depth;
        bytes_ = sizeof(Slot) * depth_;
        void *p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            *err = "line ring: mmap failed";
            return false;
        }
        slots_ = new (p) Slot[depth_];  // inherited by the children
        return true;
    }

    std::unique_ptr<Endpoint> open(std::string *) override {
        return std::make_unique<LineRingEndpoint>(slots_, depth_);
    }

    void destroy() override {
        if (slots_) munmap(slots_, bytes_);
        slots_ = nullptr;
    }

  private:
    Slot *slots_ = nullptr;
    uint32_t depth_ = 0;
    size_t bytes_ = 0;
};

}  // namespace

std::unique_ptr<Transport> make_line_ring() {
    return std::make_unique<LineRingTransport>();
}

}  // namespace cqb
