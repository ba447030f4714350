// CRC-32C (Castagnoli), as used by iSCSI and ext4: hardware instruction when
// the CPU has SSE4.2, a table otherwise. crc32c("123456789") == 0xE3069283.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cq {

// Extends crc (0 to start) over n bytes.
uint32_t crc32c(uint32_t crc, const void *data, size_t n) noexcept;

}  // namespace cq
