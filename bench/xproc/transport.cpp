#include "bench/xproc/transport.hpp"

#include <unistd.h>

namespace cqb {

std::string unique_name(const char *prefix) {
    static int seq = 0;
    return std::string(prefix) + "-" + std::to_string(::getpid()) + "-" + std::to_string(seq++);
}

}  // namespace cqb
