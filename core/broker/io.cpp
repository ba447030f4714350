#include "core/broker/io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

namespace cq::broker {
namespace {

std::atomic<IoFaults *> g_faults{nullptr};

// True (errno set) if this operation is the one to fail.
bool inject(IoOp op) {
    IoFaults *f = g_faults.load(std::memory_order_acquire);
    if (!f || !(f->mask & (1u << static_cast<unsigned>(op)))) return false;
    const uint64_t k = f->count.fetch_add(1) + 1;
    const uint64_t at = f->fail_at.load();
    if (at == 0 || k < at || (k > at && !f->sticky)) return false;
    errno = f->error ? f->error : EIO;
    return true;
}

}  // namespace

void io_set_faults(IoFaults *f) noexcept {
    g_faults.store(f, std::memory_order_release);
}

int io_open(const std::string &path, int flags, mode_t mode) {
    if ((flags & O_CREAT) && inject(IoOp::open)) return -1;
    int fd;
    do fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    return fd;
}

int io_fdatasync(int fd, const std::string &path) {
    if (inject(IoOp::fdatasync)) return -1;
    if (::fdatasync(fd) != 0) return -1;
    if (IoFaults *f = g_faults.load(std::memory_order_acquire); f && f->synced)
        f->synced(f->ctx, fd, path.c_str());
    return 0;
}

int io_ftruncate(int fd, off_t size) {
    if (inject(IoOp::ftruncate)) return -1;
    // posix_fallocate reserves the blocks: a full disk fails here, not with
    // SIGBUS on a later store into the mapping.
    if (::ftruncate(fd, size) != 0) return -1;
    int r = ::posix_fallocate(fd, 0, size);
    if (r != 0 && r != EOPNOTSUPP && r != EINVAL) {
        errno = r;
        return -1;
    }
    return 0;
}

int io_rename_noreplace(const std::string &from, const std::string &to) {
    if (inject(IoOp::rename)) return -1;
    return ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
}

int io_rename(const std::string &from, const std::string &to) {
    if (inject(IoOp::rename)) return -1;
    return ::rename(from.c_str(), to.c_str());
}

int io_write_all(int fd, const void *data, size_t n) {
    if (inject(IoOp::write)) return -1;
    const char *p = static_cast<const char *>(data);
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    return 0;
}

int io_unlink(const std::string &path) {
    if (inject(IoOp::unlink)) return -1;
    return ::unlink(path.c_str());
}

int io_mkdir(const std::string &path, mode_t mode) {
    if (inject(IoOp::mkdir)) return -1;
    if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return 0;
    return -1;
}

int io_fsync_dir(const std::string &dir) {
    if (inject(IoOp::fsync_dir)) return -1;
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = ::fsync(fd);
    int e = errno;
    ::close(fd);
    errno = e;
    return r;
}

std::string temp_suffix() {
    static std::atomic<uint64_t> counter{0};
    return std::to_string(::getpid()) + "-" +
           std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

Errc write_file_whole(const std::string &dir, const std::string &path, const void *data, size_t n,
                      mode_t mode, bool sync, bool replace) {
    const std::string tmp = path + ".tmp-" + temp_suffix();
    const int fd = io_open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) return fail_errno(errc_from_errno(errno), errno, "create %s", tmp.c_str());
    Errc e = Errc::ok;
    if (io_write_all(fd, data, n) != 0)
        e = fail_errno(Errc::io, errno, "write %s", tmp.c_str());
    else if (sync && io_fdatasync(fd, tmp) != 0)
        e = fail_errno(Errc::io, errno, "fdatasync %s", tmp.c_str());
    ::close(fd);
    if (e == Errc::ok && (replace ? io_rename(tmp, path) : io_rename_noreplace(tmp, path)) != 0 &&
        (replace || errno != EEXIST))
        e = fail_errno(Errc::io, errno, "rename %s to %s", tmp.c_str(), path.c_str());
    io_unlink(tmp);  // after a rename: ENOENT, harmless
    if (e != Errc::ok) return e;
    if (sync && io_fsync_dir(dir) != 0) return fail_errno(Errc::io, errno, "fsync %s", dir.c_str());
    return Errc::ok;
}

void remove_stale_temps(const std::string &dir) {
    DIR *d = ::opendir(dir.c_str());
    if (!d) return;
    while (dirent *e = ::readdir(d)) {
        const char *t = std::strstr(e->d_name, ".tmp-");
        if (!t) continue;
        const char *p = t + 5;
        while (*p && (*p < '0' || *p > '9')) ++p;  // ".tmp-ctl-PID-..." and ".tmp-PID-..."
        const long pid = std::strtol(p, nullptr, 10);
        if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH))
            ::unlink((dir + "/" + e->d_name).c_str());
    }
    ::closedir(d);
}

}  // namespace cq::broker
