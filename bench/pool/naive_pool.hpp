// The baseline: a naive pool, the way it is usually written: one mutex, one
// condition_variable, a std::deque of jobs, notify_one per submit.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

class NaivePool {
  public:
    using Fn = void (*)(void *);
    // first_cpu >= 0: worker i pinned to CPU first_cpu + i.
    NaivePool(unsigned workers, int first_cpu) {
        for (unsigned i = 0; i < workers; ++i) {
            threads_.emplace_back([this] { run(); });
            if (first_cpu >= 0) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET((first_cpu + static_cast<int>(i)) %
                            static_cast<int>(std::thread::hardware_concurrency()),
                        &set);
                pthread_setaffinity_np(threads_.back().native_handle(), sizeof set, &set);
            }
        }
    }
    ~NaivePool() {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto &t : threads_) t.join();
    }
    void submit(Fn fn, void *arg) {
        {
            std::lock_guard lk(mu_);
            jobs_.emplace_back(fn, arg);
        }
        cv_.notify_one();
    }

  private:
    void run() {
        for (;;) {
            std::pair<Fn, void *> job;
            {
                std::unique_lock lk(mu_);
                cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
                if (jobs_.empty()) return;
                job = jobs_.front();
                jobs_.pop_front();
            }
            job.first(job.second);
        }
    }
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<Fn, void *>> jobs_;
    bool stop_ = false;
    std::vector<std::thread> threads_;
};
