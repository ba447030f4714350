// One-byte open-file-description locks used as liveness tokens.
//
// The kernel drops an OFD lock exactly when the last descriptor of its open
// file description is closed, which includes the death of the process by any
// signal; a reused pid cannot inherit it. F_OFD_GETLK from any other open file
// description tells whether the byte is held. Locks may lie beyond EOF.
#pragma once

#include <cstdint>

namespace cq {

enum class LockProbe { held, free, error };

// Non-blocking write lock of byte `off`. True if this descriptor now holds it.
bool ofd_try_lock(int fd, uint64_t off) noexcept;
void ofd_unlock(int fd, uint64_t off) noexcept;
// Whether another open file description holds byte `off` (locks of `fd`'s own
// description never count).
LockProbe ofd_probe(int fd, uint64_t off) noexcept;

}  // namespace cq
