// Cross-language broker test participant in C++: see run_xlang_broker.py for the protocol.
#include <chrono>
#include <cqueue/cqueue.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

int main(int argc, char **argv) {
    using namespace std::chrono_literals;
    if (argc != 8) {
        std::fprintf(stderr, "usage: xlang_broker MODE DIR TAG N TOTAL OUTFILE SYNCDIR\n");
        return 2;
    }
    std::string mode = argv[1], dir = argv[2], tag = argv[3], outfile = argv[6], sync = argv[7];
    long n = std::atol(argv[4]), total = std::atol(argv[5]);
    const std::string topic = "xlang.broker";
    try {
        cqueue::Broker b(dir);
        if (mode == "publish") {
            for (long i = 0; i < n; ++i) b.publish(topic, tag + ":2:" + std::to_string(i));
            return 0;
        }
        auto sub = b.subscribe(topic, "xl-" + tag, mode == "run1" ? uint32_t{CQ_SUB_EARLIEST} : 0u);
        if (mode == "run1") {
            std::ofstream(std::filesystem::path(sync) / (tag + ".ready")).flush();
            while (!std::filesystem::exists(std::filesystem::path(sync) / "go"))
                std::this_thread::sleep_for(1ms);
            for (long i = 0; i < n; ++i) b.publish(topic, tag + ":1:" + std::to_string(i));
        }
        std::ofstream out(outfile);
        for (long got = 0; got < total; ++got) {
            auto m = sub.poll(30s);
            if (!m) {
                std::fprintf(stderr, "cpp: only %ld of %ld records\n", got, total);
                return 1;
            }
            out << m->offset << ' ' << m->text() << '\n';
            sub.ack(*m);
        }
        while (auto m = sub.poll(300ms)) out << m->offset << ' ' << m->text() << '\n';
        out.flush();
        sub.unsubscribe();
        b.close();
    } catch (const cqueue::Error &e) {
        std::fprintf(stderr, "cpp: %s\n", e.what());
        return 1;
    }
    return 0;
}
