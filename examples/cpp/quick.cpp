// C++ quick example (README): a queue and a pool job. Run with no arguments.
#include <unistd.h>

#include <cqueue/cqueue.hpp>
#include <iostream>
#include <string>

int main() {
    std::string name = "example-cpp-" + std::to_string(::getpid());
    cqueue::Queue q(name, cqueue::QueueOptions{}.create().capacity(1024).max_message_size(256));
    q.enqueue("hello from C++");
    auto msg = q.dequeue_wait(std::chrono::seconds(1));
    std::cout << std::string(reinterpret_cast<const char *>(msg.data()), msg.size()) << "\n";

    cqueue::Pool pool(cqueue::PoolOptions{}.workers(2));
    pool.submit([] { std::cout << "job ran\n"; });
    pool.shutdown();
    cqueue::Queue::unlink(name);
}
