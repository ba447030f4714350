#include "core/util/prefetch.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace cq {

bool cpu_has_prefetchw() noexcept {
#if defined(__x86_64__)
    static const bool has = [] {
        unsigned a, b, c, d;
        return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 8)) != 0;
    }();
    return has;
#else
    return false;
#endif
}

}  // namespace cq
