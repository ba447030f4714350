// Boost.Interprocess message_queue: a ring of fixed-size slots in shared
// memory behind a process-shared mutex and two condition variables.
#include <boost/interprocess/ipc/message_queue.hpp>

#include "bench/xproc/transport.hpp"

namespace cqb {
namespace {

namespace bip = boost::interprocess;

class BoostEndpoint final : public Endpoint {
  public:
    explicit BoostEndpoint(const std::string &name) : mq_(bip::open_only, name.c_str()) {}

    bool send(const void *data, size_t len) override {
        try {
            mq_.send(data, len, 0);
            return true;
        } catch (const bip::interprocess_exception &e) {
            err_ = std::string("message_queue::send: ") + e.what();
            return false;
        }
    }

    int recv(RecvBuf *bufs, int) override {
        try {
            unsigned prio = 0;
            bip::message_queue::size_type got = 0;
            mq_.receive(bufs[0].data, bufs[0].cap, got, prio);
            bufs[0].len = got;
            return 1;
        } catch (const bip::interprocess_exception &e) {
            err_ = std::string("message_queue::receive: ") + e.what();
            return -1;
        }
    }

    bool blocking() const override { return true; }

  private:
    bip::message_queue mq_;
};

class BoostTransport final : public Transport {
  public:
    std::string label() const override { return "Boost.Interprocess mq"; }

    bool create(const Spec &spec, std::string *err) override {
        name_ = unique_name("cqbench-boost");
        try {
            bip::message_queue mq(bip::create_only, name_.c_str(), spec.depth, spec.msg_size);
            return true;
        } catch (const bip::interprocess_exception &e) {
            *err = std::string("message_queue(create_only): ") + e.what();
            return false;
        }
    }

    std::unique_ptr<Endpoint> open(std::string *err) override {
        try {
            return std::make_unique<BoostEndpoint>(name_);
        } catch (const bip::interprocess_exception &e) {
            *err = std::string("message_queue(open_only): ") + e.what();
            return nullptr;
        }
    }

    void destroy() override { bip::message_queue::remove(name_.c_str()); }

  private:
    std::string name_;
};

}  // namespace

std::unique_ptr<Transport> make_boost_mq() {
    return std::make_unique<BoostTransport>();
}

}  // namespace cqb
