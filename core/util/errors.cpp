#include "errors.hpp"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace cq {
namespace {
// The only mutable global state of the library: each thread's detail text.
thread_local char t_last_error[512];
thread_local const char *t_static_error = nullptr;  // wins over the buffer when set
}  // namespace

const char *errc_text(int code) noexcept {
    switch (static_cast<Errc>(code)) {
        case Errc::ok:
            return "success";
        case Errc::empty:
            return "queue is empty";
        case Errc::full:
            return "queue is full";
        case Errc::timedout:
            return "timed out";
        case Errc::msgsize:
            return "message too large";
        case Errc::inval:
            return "invalid argument";
        case Errc::noent:
            return "no such object";
        case Errc::exist:
            return "already exists";
        case Errc::perm:
            return "permission denied";
        case Errc::corrupt:
            return "data is corrupt";
        case Errc::version:
            return "incompatible layout version";
        case Errc::nomem:
            return "out of memory";
        case Errc::io:
            return "input/output error";
        case Errc::closed:
            return "closed";
        case Errc::canceled:
            return "cancelled";
        case Errc::busy:
            return "busy, try again later";
        case Errc::foreign:
            return "name is taken by something that is not a libcqueue object";
    }
    return "unknown error";
}

Errc fail(Errc e, const char *fmt, ...) noexcept {
    t_static_error = nullptr;
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(t_last_error, sizeof t_last_error, fmt, ap);
    va_end(ap);
    return e;
}

Errc fail_errno(Errc e, int errno_value, const char *fmt, ...) noexcept {
    t_static_error = nullptr;
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(t_last_error, sizeof t_last_error, fmt, ap);
    va_end(ap);
    if (n >= 0 && static_cast<size_t>(n) < sizeof t_last_error) {
        char buf[128];
        const char *s = strerror_r(errno_value, buf, sizeof buf);
        std::snprintf(t_last_error + n, sizeof t_last_error - static_cast<size_t>(n), ": %s", s);
    }
    return e;
}

Errc errc_from_errno(int errno_value) noexcept {
    switch (errno_value) {
        case ENOENT:
            return Errc::noent;
        case EEXIST:
            return Errc::exist;
        case EACCES:
        case EPERM:
        case EROFS:
            return Errc::perm;
        case ENOMEM:
        case ENOSPC:
        case EFBIG:
        case EOVERFLOW:
            return Errc::nomem;
        case EINVAL:
        case ENAMETOOLONG:
            return Errc::inval;
        default:
            return Errc::io;
    }
}

Errc fail_static(Errc e, const char *text) noexcept {
    t_static_error = text;
    return e;
}

const char *last_error() noexcept {
    return t_static_error ? t_static_error : t_last_error;
}
void clear_last_error() noexcept {
    t_static_error = nullptr;
    t_last_error[0] = '\0';
}

}  // namespace cq
