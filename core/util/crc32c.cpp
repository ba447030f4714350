#include "crc32c.hpp"

#include <array>
#include <cstring>

namespace cq {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

constexpr std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr auto kTable = make_table();

uint32_t crc_table(uint32_t c, const unsigned char *p, size_t n) noexcept {
    while (n--) c = kTable[(c ^ *p++) & 0xFFu] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc_hw(uint32_t c, const unsigned char *p,
                                                  size_t n) noexcept {
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
        p += 8;
        n -= 8;
    }
    c = static_cast<uint32_t>(c64);
    while (n--) c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}
#endif

}  // namespace

uint32_t crc32c(uint32_t crc, const void *data, size_t n) noexcept {
    const auto *p = static_cast<const unsigned char *>(data);
    uint32_t c = ~crc;
#if defined(__x86_64__)
    static const bool hw = __builtin_cpu_supports("sse4.2");
    c = hw ? crc_hw(c, p, n) : crc_table(c, p, n);
#else
    c = crc_table(c, p, n);
#endif
    return ~c;
}

}  // namespace cq
