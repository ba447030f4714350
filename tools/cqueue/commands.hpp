// The commands of the cqueue tool. Each takes the whole argv with argv[1]
// being its own name, parses the rest, and returns an exit code (cli.hpp);
// errors are thrown as UsageError, LibError or SysError and printed by main.
#pragma once

#include <span>
#include <string_view>

namespace cqcli {

struct Command {
    std::string_view name;
    std::string_view summary;
    int (*run)(int argc, char **argv);
    bool hidden;  // internal: not listed in --help
};

std::span<const Command> commands();

int run_create(int argc, char **argv);              // admin.cpp
int run_recover(int argc, char **argv);             // admin.cpp
int run_rm(int argc, char **argv);                  // admin.cpp
int run_stat(int argc, char **argv);                // stat.cpp
int run_send(int argc, char **argv);                // send.cpp
int run_recv(int argc, char **argv);                // recv.cpp
int run_pub(int argc, char **argv);                 // pub.cpp
int run_sub(int argc, char **argv);                 // sub.cpp
int run_topics(int argc, char **argv);              // topics.cpp
int run_lag(int argc, char **argv);                 // lag.cpp
int run_bench(int argc, char **argv);               // bench.cpp
int run_demo(int argc, char **argv);                // demo.cpp
int run_demo_worker(int argc, char **argv);         // demo_worker.cpp
int run_broker_demo_worker(int argc, char **argv);  // demo_broker_worker.cpp

// Prints a command's help text to stdout; returns kExitOk.
int print_help(std::string_view text);

}  // namespace cqcli
