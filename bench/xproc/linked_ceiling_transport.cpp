// A ceiling, not a queue: the shape of Michael & Scott's queue with nothing
// else. One producer and one consumer; a message lives in a node of its
// own, the consumer finds it through the link in the node before it (the
// dummy), and nodes recycle. No CAS, no tags, no recovery gate, no done
// bits; free nodes go back through a ring of indices (sixteen per cache
// line) that the producer reads only when it runs out, so no node's line
// carries a free-list link. The consumer prefetches the message linked
// after the one it takes, as cqueue's claim does. What remains is what a
// linked queue cannot avoid: the consumer learns where each message is only
// by reading the node before it, and each node's line goes to the consumer
// as a message and comes back to be written again.
//
// The second variant links with a CAS instead of a store, as a queue with
// several producers must (M&S's E9): the producer then waits for the line
// the consumer polls before it can go on.
#include <atomic>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "bench/xproc/procs.hpp"
#include "bench/xproc/transport.hpp"

namespace cqb {
namespace {

constexpr uint32_t kNone = UINT32_MAX;

struct alignas(64) Node {
    std::atomic<uint32_t> next{kNone};
    uint32_t len = 0;
    char data[56];
};

struct alignas(64) Shared {
    std::atomic<uint64_t> returned{0};  // free indices handed back so far
};

class LinkedEndpoint final : public Endpoint {
  public:
    // ring_size nodes start free (node 0 is the first dummy).
    LinkedEndpoint(Shared *sh, uint32_t *ring, Node *nodes, uint32_t ring_size, bool cas_link)
        : sh_(sh),
          ring_(ring),
          nodes_(nodes),
          ring_size_(ring_size),
          known_free_(ring_size),
          returned_(ring_size),
          cas_link_(cas_link) {}

    bool send(const void *data, size_t len) override {
        Backoff b;
        while (taken_ == known_free_) {
            known_free_ = sh_->returned.load(std::memory_order_acquire);
            if (taken_ == known_free_) b.pause();  // every node is queued: full
        }
        const uint32_t n = ring_[taken_++ % ring_size_];
        Node &node = nodes_[n];
        node.next.store(kNone, std::memory_order_relaxed);
        node.len = static_cast<uint32_t>(len);
        std::memcpy(node.data, data, len);
        // Link onto the last node: the consumer may be polling this word.
        if (cas_link_) {
            uint32_t expected = kNone;
            if (!nodes_[tail_].next.compare_exchange_strong(expected, n, std::memory_order_release,
                                                            std::memory_order_relaxed)) {
                err_ = "linked ceiling: the last node was linked already";
                return false;
            }
        } else {
            nodes_[tail_].next.store(n, std::memory_order_release);
        }
        tail_ = n;
        return true;
    }

    int recv(RecvBuf *bufs, int) override {
        const uint32_t n = nodes_[head_].next.load(std::memory_order_acquire);
        if (n == kNone) return 0;
        const Node &node = nodes_[n];
        if (node.len > bufs[0].cap) {
            err_ = "linked ceiling: message larger than the buffer";
            return -1;
        }
        bufs[0].len = node.len;
        std::memcpy(bufs[0].data, node.data, node.len);
        if (const uint32_t after = node.next.load(std::memory_order_relaxed); after != kNone)
            __builtin_prefetch(&nodes_[after], 1, 3);
        // The old dummy is free: the producer linked onto it and will not
        // touch it again.
        ring_[returned_ % ring_size_] = head_;
        sh_->returned.store(++returned_, std::memory_order_release);
        head_ = n;
        return 1;
    }

    bool blocking() const override { return false; }

  private:
    Shared *sh_;
    uint32_t *ring_;
    Node *nodes_;
    uint32_t ring_size_;
    // Producer side: nodes taken from the ring, and how many it knows were returned.
    uint64_t taken_ = 0, known_free_;
    uint32_t tail_ = 0;
    // Consumer side.
    uint64_t returned_;
    uint32_t head_ = 0;
    bool cas_link_;
};

class LinkedCeilingTransport final : public Transport {
  public:
    explicit LinkedCeilingTransport(bool cas_link) : cas_link_(cas_link) {}
    std::string label() const override {
        return cas_link_ ? "ceiling: CAS-linked" : "ceiling: linked nodes";
    }

    bool create(const Spec &spec, std::string *err) override {
        if (spec.msg_size > sizeof(Node::data)) {
            *err = "linked ceiling: messages must fit a node";
            return false;
        }
        depth_ = spec.depth;
        const size_t ring_bytes = (sizeof(uint32_t) * depth_ + 63) / 64 * 64;
        bytes_ = sizeof(Shared) + ring_bytes + sizeof(Node) * (depth_ + 1);
        void *p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            *err = "linked ceiling: mmap failed";
            return false;
        }
        base_ = static_cast<char *>(p);
        sh_ = new (base_) Shared;
        ring_ = reinterpret_cast<uint32_t *>(base_ + sizeof(Shared));
        nodes_ = new (base_ + sizeof(Shared) + ring_bytes) Node[depth_ + 1];
        // Node 0 is the first dummy; the rest start free, in a shuffled order
        // (cqueue's free nodes are scattered over its arena too), which the
        // FIFO ring then keeps.
        std::vector<uint32_t> order(depth_);
        std::iota(order.begin(), order.end(), 1u);
        std::shuffle(order.begin(), order.end(), std::mt19937(12345));
        std::memcpy(ring_, order.data(), sizeof(uint32_t) * depth_);
        sh_->returned.store(depth_, std::memory_order_relaxed);
        return true;
    }

    std::unique_ptr<Endpoint> open(std::string *) override {
        return std::make_unique<LinkedEndpoint>(sh_, ring_, nodes_, depth_, cas_link_);
    }

    void destroy() override {
        if (base_) munmap(base_, bytes_);
        base_ = nullptr;
    }

  private:
    char *base_ = nullptr;
    Shared *sh_ = nullptr;
    uint32_t *ring_ = nullptr;
    Node *nodes_ = nullptr;
    uint32_t depth_ = 0;  // nodes that start free, and the ring's size
    size_t bytes_ = 0;
    bool cas_link_;
};

}  // namespace

std::unique_ptr<Transport> make_linked_ceiling(bool cas_link) {
    return std::make_unique<LinkedCeilingTransport>(cas_link);
}

}  // namespace cqb
