// A set of worker processes (tests/queue/worker.cpp) around one queue, with
// a shared progress array, for the multi-process tests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "tests/util/test_util.hpp"

namespace cqtest {

class Workers {
  public:
    struct Worker {
        bool producer;
        int slot;      // producer slot or consumer index
        uint32_t inc;  // producer incarnation
        pid_t pid = -1;
        std::string out;  // consumer output file
    };

    Workers(std::string queue, const TempDir &dir, std::vector<std::string> extra = {})
        : queue_(std::move(queue)), dir_(dir), extra_(std::move(extra)) {
        progress_path_ = dir_.file("progress");
        int fd = ::open(progress_path_.c_str(), O_RDWR | O_CREAT, 0600);
        if (ftruncate(fd, 4096) != 0) std::abort();
        void *p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ::close(fd);
        progress_ = static_cast<std::atomic<uint64_t> *>(p);
    }
    ~Workers() {
        for (auto &w : workers_)
            if (w.pid > 0) kill_and_reap(w.pid, SIGKILL);
        ::munmap(progress_, 4096);
    }

    // Progress index of worker i: 0..255 (one per worker record).
    int add_producer(uint64_t count = 0) {
        workers_.push_back({true, producers_++, 0, -1, {}});
        start(workers_.size() - 1, count);
        return static_cast<int>(workers_.size() - 1);
    }
    int add_consumer() {
        Worker w{false, consumers_++, 0, -1, {}};
        w.out = dir_.file("consumer" + std::to_string(w.slot));
        workers_.push_back(w);
        start(workers_.size() - 1, 0);
        return static_cast<int>(workers_.size() - 1);
    }
    // SIGKILL worker i and start it again (a producer as a new incarnation).
    // Its progress starts again from 0.
    void kill_and_restart(size_t i) {
        Worker &w = workers_[i];
        kill_and_reap(w.pid, SIGKILL);
        w.pid = -1;
        if (w.producer) {
            // Remember what the dead incarnation got to before its slot of
            // the progress array is reused.
            sent_[{static_cast<uint32_t>(w.slot), w.inc}] = progress_[index(i)].load();
            ++w.inc;
        }
        progress_[index(i)].store(0);
        start(i, 0);
    }
    // SIGTERM all producers and wait; then all consumers (they drain).
    void stop_all() {
        for (int pass = 0; pass < 2; ++pass) {
            bool producers = pass == 0;
            for (auto &w : workers_)
                if (w.producer == producers && w.pid > 0) ::kill(w.pid, SIGTERM);
            for (size_t i = 0; i < workers_.size(); ++i) {
                Worker &w = workers_[i];
                if (w.producer != producers || w.pid <= 0) continue;
                statuses_.push_back(wait_status(w.pid));
                w.pid = -1;
                if (w.producer)
                    sent_[{static_cast<uint32_t>(w.slot), w.inc}] = progress_[index(i)].load();
            }
        }
    }
    // Wait for every worker to exit by itself.
    void wait_all() {
        for (size_t i = 0; i < workers_.size(); ++i) {
            Worker &w = workers_[i];
            if (w.pid <= 0) continue;
            statuses_.push_back(wait_status(w.pid));
            w.pid = -1;
            if (w.producer)
                sent_[{static_cast<uint32_t>(w.slot), w.inc}] = progress_[index(i)].load();
        }
    }

    std::vector<Worker> &all() { return workers_; }
    uint64_t progress(size_t i) const { return progress_[index(i)].load(); }
    std::vector<std::string> outputs() const {
        std::vector<std::string> v;
        for (auto &w : workers_)
            if (!w.producer) v.push_back(w.out);
        return v;
    }
    // Messages a producer incarnation is known to have sent.
    uint64_t sent(uint32_t slot, uint32_t inc) const {
        auto it = sent_.find({slot, inc});
        return it == sent_.end() ? 0 : it->second;
    }
    const std::vector<int> &statuses() const { return statuses_; }

  private:
    static size_t index(size_t i) { return i % 256; }
    void start(size_t i, uint64_t count) {
        Worker &w = workers_[i];
        std::vector<std::string> args;
        if (w.producer) {
            args = {"produce", queue_, std::to_string(w.slot), std::to_string(w.inc)};
            if (count) args.insert(args.end(), {"--count", std::to_string(count)});
        } else {
            args = {"consume", queue_, w.out};
        }
        args.insert(args.end(), {"--progress", progress_path_, std::to_string(index(i))});
        args.insert(args.end(), extra_.begin(), extra_.end());
        // SIGTERM blocked across fork and exec: stop_all() may signal a worker
        // that has not installed its handler yet (seen under ASan, whose
        // start-up is slow); the worker unblocks it once the handler is in.
        sigset_t term, old;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &term, &old);
        w.pid = spawn(CQ_TEST_WORKER, args);
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }

    std::string queue_;
    const TempDir &dir_;
    std::vector<std::string> extra_;
    std::string progress_path_;
    std::atomic<uint64_t> *progress_;
    std::vector<Worker> workers_;
    int producers_ = 0, consumers_ = 0;
    std::map<std::pair<uint32_t, uint32_t>, uint64_t> sent_;
    std::vector<int> statuses_;
};

}  // namespace cqtest
