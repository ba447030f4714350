#include "core/broker/ack.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/broker/format.hpp"
#include "core/broker/io.hpp"
#include "core/shm/fd.hpp"
#include "core/util/clock.hpp"
#include "core/util/crc32c.hpp"

namespace cq::broker {

Errc parse_ack(const void *data, size_t len, uint64_t *next_offset, const char *what) {
    AckFile a;
    if (len != sizeof a)
        return fail(Errc::corrupt, "ack file %s: %zu bytes, expected %zu", what, len, sizeof a);
    std::memcpy(&a, data, sizeof a);
    if (a.magic != kAckMagic) return fail(Errc::corrupt, "ack file %s: bad magic", what);
    if (a.version != kAckVersion)
        return fail(Errc::version, "ack file %s: version %u, this library reads %u", what,
                    a.version, kAckVersion);
    if (a.size != sizeof a || crc32c(0, &a, offsetof(AckFile, crc)) != a.crc)
        return fail(Errc::corrupt, "ack file %s: checksum mismatch", what);
    *next_offset = a.next_offset;
    return Errc::ok;
}

Errc load_ack(const std::string &path, uint64_t *next_offset) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT) return Errc::noent;
        return fail_errno(errc_from_errno(errno), errno, "open %s", path.c_str());
    }
    char buf[sizeof(AckFile) + 1];
    size_t got = 0;
    for (;;) {
        ssize_t r = ::read(fd.get(), buf + got, sizeof buf - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return fail_errno(Errc::io, errno, "read %s", path.c_str());
        if (r == 0 || got + static_cast<size_t>(r) == sizeof buf) {
            got += static_cast<size_t>(r);
            break;
        }
        got += static_cast<size_t>(r);
    }
    return parse_ack(buf, got, next_offset, path.c_str());
}

Errc store_ack(const std::string &dir, const std::string &path, uint64_t next_offset, bool sync,
               mode_t mode) {
    AckFile a{};
    a.magic = kAckMagic;
    a.version = kAckVersion;
    a.size = sizeof a;
    a.next_offset = next_offset;
    a.written_ns = realtime_ns();
    a.crc = crc32c(0, &a, offsetof(AckFile, crc));
    return write_file_whole(dir, path, &a, sizeof a, mode, sync, true);
}

}  // namespace cq::broker
