// Cross-language test participant in C++ (cqueue.hpp): see run_xlang.py for the protocol.
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cqueue/cqueue.hpp>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char **argv) try {
    using namespace std::chrono_literals;
    if (argc != 6) {
        std::cerr << "usage: " << argv[0] << " QUEUE TAG N OUTFILE SYNCDIR\n";
        return 2;
    }
    std::string tag = argv[2], sync = argv[5];
    int n = std::stoi(argv[3]);
    cqueue::Queue q(argv[1], cqueue::QueueOptions{}.create().capacity(64).max_message_size(64));
    std::ofstream(sync + "/" + tag + ".ready").flush();
    struct stat st;
    while (::stat((sync + "/go").c_str(), &st) != 0) std::this_thread::sleep_for(1ms);

    std::atomic<bool> produced_all{false};
    std::thread producer([&] {
        for (int i = 0; i < n; ++i) q.enqueue_wait(tag + ":" + std::to_string(i), 10s);
        produced_all = true;
    });
    std::ofstream out(argv[4]);
    auto idle = 0ms;
    for (;;) {
        std::byte buf[64];
        auto r = q.try_dequeue(buf);  // non-throwing path, with a short sleep when empty
        if (r) {
            out.write(reinterpret_cast<const char *>(buf), static_cast<std::streamsize>(*r));
            out << '\n';
            idle = 0ms;
            continue;
        }
        if (r.code() != CQ_EEMPTY) r.error().raise();
        try {
            size_t len = q.dequeue_wait(std::span<std::byte>(buf), 100ms);
            out.write(reinterpret_cast<const char *>(buf), static_cast<std::streamsize>(len));
            out << '\n';
            idle = 0ms;
        } catch (const cqueue::Error &e) {
            if (e.code() != CQ_ETIMEDOUT) throw;
            if (produced_all && (idle += 100ms) >= 1500ms) break;
        }
    }
    producer.join();
    return 0;
} catch (const std::exception &e) {
    std::cerr << "cpp: " << e.what() << "\n";
    return 1;
}
