#include "ofd_lock.hpp"

#include <fcntl.h>

#include <cerrno>

namespace cq {
namespace {
struct flock byte_lock(short type, uint64_t off) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(off);
    fl.l_len = 1;
    fl.l_pid = 0;  // required 0 for OFD locks
    return fl;
}
}  // namespace

bool ofd_try_lock(int fd, uint64_t off) noexcept {
    struct flock fl = byte_lock(F_WRLCK, off);
    return fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

void ofd_unlock(int fd, uint64_t off) noexcept {
    struct flock fl = byte_lock(F_UNLCK, off);
    fcntl(fd, F_OFD_SETLK, &fl);
}

LockProbe ofd_probe(int fd, uint64_t off) noexcept {
    struct flock fl = byte_lock(F_WRLCK, off);
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return LockProbe::error;
    return fl.l_type == F_UNLCK ? LockProbe::free : LockProbe::held;
}

}  // namespace cq
